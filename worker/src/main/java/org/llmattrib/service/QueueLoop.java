package org.llmattrib.service;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The loop both request queues run, one record at a time: a poll thread that alone touches the
 * Kafka consumer (which is not thread-safe), and a job thread that runs the record's handler. The
 * poll thread polls, starts a record on the job thread ({@link #startJob}), and reads the job's end
 * back through its result ({@link #ended}); it watches for a job that stalls (no checkpoint for
 * longer than the stall timeout: its record is given back and the loop dies, so the worker is not
 * live), and on {@link #close()} lets the running job finish within the drain timeout, then
 * abandons it.
 *
 * <p>How a record is taken and settled with the broker is the settlement policy, a subclass:
 * {@link JobConsumer} (a consumer group: commit offsets in order) and {@link ShareJobConsumer} (a
 * share group: acknowledge each record). A change to how jobs are queued belongs here, once.
 */
abstract class QueueLoop implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(QueueLoop.class);
    /** How long a stopping loop waits for an abandoned job's next checkpoint: the model must not be closed under it. */
    private static final Duration JOB_END = Duration.ofMinutes(5);

    /** Runs one record to its end unless {@code signal.abandoned()} becomes true; how it ended decides its settlement. */
    interface Handler {
        Settlement handle(ConsumerRecord<String, byte[]> record, JobSignal signal);
    }

    /** What the queue reports to metrics. */
    public interface Observer {
        void queueWait(long millis);

        void pausedPartitions(int count);

        void commitFailed();
    }

    /** A record on the job thread; its result is the hand-off back to the poll thread. */
    static final class Job {
        final ConsumerRecord<String, byte[]> record;
        final JobSignal signal = new JobSignal();
        private final CompletableFuture<Settlement> result = new CompletableFuture<>();

        private Job(ConsumerRecord<String, byte[]> record) {
            this.record = record;
        }

        /** {@code topic-partition@offset}, for logs. */
        String source() {
            return record.topic() + "-" + record.partition() + "@" + record.offset();
        }
    }

    private final Handler handler;
    final Observer observer;
    private final Duration drainTimeout;
    private final Duration stallTimeout;
    private final ExecutorService jobThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "attribution-job"));
    private final Thread pollThread = new Thread(this::pollLoop, "attribution-poll");
    private volatile boolean running = true;
    private volatile long drainUntilNanos;
    /** Set by the policy: a member of its group, taking jobs. */
    volatile boolean member;
    private volatile Throwable died;
    /** The record being run; written by the poll thread only. */
    private volatile Job job;

    /**
     * @param drainTimeout on {@link #close()}, how long the running job may still take to finish
     * @param stallTimeout a job silent for longer (no checkpoint) is given up and this queue dies
     */
    QueueLoop(Handler handler, Observer observer, Duration drainTimeout, Duration stallTimeout) {
        this.handler = handler;
        this.observer = observer;
        this.drainTimeout = drainTimeout;
        this.stallTimeout = stallTimeout;
    }

    /** Subscribes, on the poll thread. */
    abstract void subscribe();

    /** Polls once and takes what came; a record to run goes to {@link #startJob}. {@code busy}: a job is in flight. */
    abstract void poll(boolean busy);

    /** After each poll while a job is in flight: settles it once {@link #ended}, else keeps its record. */
    abstract void tend(Job job);

    /** After each poll, a job in flight or not. */
    void afterPoll() {
    }

    /** The job stalled and was abandoned (the loop dies next): give its record back now if this consumer can. */
    abstract void giveBack(Job job);

    /**
     * The loop ended (closed, or died): settles the last job as it ended ({@code null}: none was
     * in flight, or it stalled) and what else is pending; the consumer is closed next.
     */
    abstract void stopped(Job job, Settlement ended);

    /** Closes the consumer, leaving its group. */
    abstract void closeConsumer();

    @Override
    public void start() {
        pollThread.start();
    }

    @Override
    public boolean alive() {
        return died == null;
    }

    /** A member of its group that takes new jobs. */
    @Override
    public boolean ready() {
        return member && running && died == null;
    }

    /** Takes new jobs (not closing). */
    final boolean taking() {
        return running;
    }

    /** Closing, and the running job still has time to finish. */
    final boolean draining() {
        return System.nanoTime() < drainUntilNanos;
    }

    /** What is left of the drain timeout. */
    final long drainLeftMillis() {
        return TimeUnit.NANOSECONDS.toMillis(Math.max(0, drainUntilNanos - System.nanoTime()));
    }

    /** The job in flight, or null. */
    final Job job() {
        return job;
    }

    private void pollLoop() {
        try {
            subscribe();
            while (running || (job != null && draining())) {
                poll(job != null);
                Job current = job;
                if (current != null) {
                    if (!current.result.isDone() && current.signal.silentFor(stallTimeout)) {
                        giveUpStalled(current);
                    }
                    tend(current);
                }
                afterPoll();
            }
        } catch (Throwable e) {
            died = e;
            LOG.error("the request consumer died; /health/live now answers 503", e);
        } finally {
            member = false;
            jobThread.shutdown();
            Job last = job;
            try {
                stopped(last, last == null ? null : abandon(last));
            } catch (RuntimeException e) {
                LOG.warn("could not settle {} on stopping: {}", last == null ? "the finished records" : last.source(),
                        e.getMessage());
            } finally {
                closeConsumer();
            }
        }
    }

    /** Runs the record on the job thread; it is the job in flight until {@link #ended}. */
    final void startJob(ConsumerRecord<String, byte[]> record) {
        Job started = new Job(record);
        job = started;
        observer.queueWait(Math.max(0, System.currentTimeMillis() - record.timestamp()));
        jobThread.execute(() -> {
            Settlement settlement = Settlement.RETRY;
            try {
                settlement = handler.handle(record, started.signal);
            } catch (RuntimeException e) {
                LOG.error("job at {} could not be finished; it is given back", started.source(), e);
            } finally {
                // whatever was thrown (even an Error), the record must be settled
                started.result.complete(settlement);
            }
        });
    }

    /** How the job ended, if it ends within {@code millis}: it is then no longer in flight. */
    final Optional<Settlement> ended(Job ending, long millis) {
        try {
            Settlement settlement = ending.result.get(millis, TimeUnit.MILLISECONDS);
            if (job == ending) {
                job = null;
            }
            return Optional.of(settlement);
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stops the job at its next checkpoint and waits for it (publishing nothing more): how it ended, RETRY if it did not. */
    final Settlement abandon(Job abandoned) {
        abandoned.signal.abandon();
        Settlement settlement = ended(abandoned, JOB_END.toMillis()).orElse(Settlement.RETRY);
        if (job == abandoned) {
            job = null;
        }
        return settlement;
    }

    /**
     * The job's thread hangs: give its record back at once (it runs again elsewhere) and end the
     * poll loop, so that the worker reports it is not live.
     */
    private void giveUpStalled(Job stalled) {
        stalled.signal.abandon();
        job = null;
        giveBack(stalled);
        throw new JobSignal.Stalled(stalled.source(), stallTimeout);
    }

    /**
     * Stops taking new jobs, lets the running one finish within the drain timeout (then abandons it
     * for another worker), settles what finished and leaves the group.
     */
    @Override
    public void close() {
        drainUntilNanos = System.nanoTime() + drainTimeout.toNanos();
        running = false;
        try {
            pollThread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
