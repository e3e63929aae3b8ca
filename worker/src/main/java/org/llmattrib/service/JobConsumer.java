package org.llmattrib.service;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request consumer of one worker: keeps polling (so the group never evicts it during a long
 * job), runs one record at a time on the job thread, and pauses exactly the partitions that have a
 * record running or waiting, so records are started in offset order and offsets only move forward.
 * A record's offset is committed after its handler returns, i.e. after its final event was
 * acknowledged by the broker: at-least-once end to end.
 *
 * <p>A commit that fails (a rebalance in progress, a broker moving) is retried on the next polls
 * while the partition stays here; when it moves, the new owner gets the record again and finds it
 * answered (see {@code JobRegistry}). Any other error ends the poll loop: {@link #alive()} turns
 * false, so that the health check reports it and the worker gets restarted.
 *
 * <p>KafkaConsumer is not thread-safe: everything touching it runs on the poll thread; the job
 * thread hands results back through a queue.
 */
public final class JobConsumer implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(JobConsumer.class);

    /**
     * Runs one record to its end unless {@code signal.abandoned()} becomes true; returns true when the
     * record is done for good (its final event acknowledged) and its offset may be committed.
     */
    interface RecordHandler {
        boolean handle(ConsumerRecord<String, byte[]> record, JobSignal signal);
    }

    /** What the consumer reports to metrics. */
    public interface Observer {
        void queueWait(long millis);

        void pausedPartitions(int count);

        void commitFailed();
    }

    private record InFlight(TopicPartition partition, long offset, JobSignal signal) {}

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final RecordHandler handler;
    private final Observer observer;
    private final Duration drainTimeout;
    private final Duration stallTimeout;
    private final ExecutorService jobThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "attribution-job"));
    private final Thread pollThread;
    private final Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> waiting = new HashMap<>();
    private final Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
    private final ConcurrentLinkedQueue<Runnable> fromJobThread = new ConcurrentLinkedQueue<>();
    private volatile boolean running = true;
    private volatile long drainUntilNanos;
    private volatile boolean member;
    private volatile Throwable died;
    private InFlight inFlight;
    /** The last commit failed: the retries are not logged again. */
    private boolean commitFailing;

    /**
     * @param kafka client properties (bootstrap servers, security)
     * @param drainTimeout on {@link #close()}, how long the running job may still take to finish
     * @param stallTimeout a job silent for longer (no checkpoint) is given up and this consumer dies
     */
    JobConsumer(Properties kafka, String group, String instanceId, String topic, RecordHandler handler,
            Observer observer, Map<String, Object> overrides, Duration drainTimeout, Duration stallTimeout) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        if (instanceId != null) {
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
        }
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 16);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.putAll(overrides);
        this.consumer = new KafkaConsumer<>(p);
        this.topic = topic;
        this.handler = handler;
        this.observer = observer;
        this.drainTimeout = drainTimeout;
        this.stallTimeout = stallTimeout;
        this.pollThread = new Thread(this::pollLoop, "attribution-poll");
    }

    @Override
    public void start() {
        pollThread.start();
    }

    @Override
    public boolean alive() {
        return died == null;
    }

    /** A member of the group (its assignment known, possibly empty) that takes new jobs. */
    @Override
    public boolean ready() {
        return member && running && died == null;
    }

    private void pollLoop() {
        try {
            consumer.subscribe(List.of(topic), new Rebalance());
            while (running || (inFlight != null && System.nanoTime() < drainUntilNanos)) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (running) {
                    for (ConsumerRecord<String, byte[]> r : records) {
                        waiting.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayDeque<>()).add(r);
                    }
                }
                runJobThreadActions();
                if (inFlight != null && inFlight.signal().silentFor(stallTimeout)) {
                    // the partition goes to another member when this consumer leaves the group
                    throw new JobSignal.Stalled(inFlight.partition() + "@" + inFlight.offset(), stallTimeout);
                }
                commitPending();
                if (running) {
                    startNextJob();
                }
                updatePauses();
            }
        } catch (Throwable e) {
            died = e;
            LOG.error("the request consumer died; /health/live now answers 503", e);
        } finally {
            member = false;
            abandonInFlight();
            jobThread.shutdown();
            try {
                // the job stops at its next checkpoint; the model must not be closed under it (a
                // stalled job has no next checkpoint: leave the group at once)
                jobThread.awaitTermination(died instanceof JobSignal.Stalled ? 0 : 5, java.util.concurrent.TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (died == null) {
                runJobThreadActions();
                commitPending();
            }
            consumer.close();
        }
    }

    private void runJobThreadActions() {
        Runnable action;
        while ((action = fromJobThread.poll()) != null) {
            action.run();
        }
    }

    private void startNextJob() {
        if (inFlight != null) {
            return;
        }
        for (Map.Entry<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> e : waiting.entrySet()) {
            ConsumerRecord<String, byte[]> record = e.getValue().poll();
            if (record == null) {
                continue;
            }
            InFlight job = new InFlight(e.getKey(), record.offset(), new JobSignal());
            inFlight = job;
            observer.queueWait(Math.max(0, System.currentTimeMillis() - record.timestamp()));
            jobThread.execute(() -> {
                boolean[] done = {false};
                try {
                    done[0] = handler.handle(record, job.signal());
                } catch (RuntimeException ex) {
                    LOG.error("job at {}@{} could not be finished; it will be redelivered", job.partition(),
                            job.offset(), ex);
                } finally {
                    // whatever was thrown (even an Error), the partition must not stay blocked
                    fromJobThread.add(() -> finish(job, done[0]));
                }
            });
            return;
        }
    }

    /**
     * On the poll thread: a finished record's offset is queued for commit; a record that is not done
     * (abandoned, revoked, final event not acknowledged) is sought back to, so this worker or the
     * next owner runs it again.
     */
    private void finish(InFlight job, boolean done) {
        if (inFlight == job) {
            inFlight = null;
        }
        if (!consumer.assignment().contains(job.partition())) {
            return;
        }
        if (done) {
            toCommit.put(job.partition(), new OffsetAndMetadata(job.offset() + 1));
        } else if (running) {
            waiting.remove(job.partition());
            consumer.seek(job.partition(), job.offset());
        }
    }

    /** Commits the finished records; a commit refused during a rebalance or a broker move is kept for the next poll. */
    private void commitPending() {
        toCommit.keySet().retainAll(consumer.assignment());
        if (toCommit.isEmpty()) {
            return;
        }
        if (tryCommit(toCommit)) {
            toCommit.clear();
        }
    }


    private boolean tryCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        try {
            consumer.commitSync(offsets);
            commitFailing = false;
            return true;
        } catch (RebalanceInProgressException | CommitFailedException | RetriableException e) {
            observer.commitFailed();
            if (!commitFailing) {
                LOG.info("commit of {} failed, retried on the next polls: {}", offsets, e.toString());
            }
            commitFailing = true;
            return false;
        }
    }

    /** Paused: partitions with a record running or waiting. Recomputed every poll, so rebalances cannot lose it. */
    private void updatePauses() {
        Set<TopicPartition> busy = new HashSet<>();
        waiting.forEach((tp, q) -> {
            if (!q.isEmpty()) {
                busy.add(tp);
            }
        });
        if (inFlight != null) {
            busy.add(inFlight.partition());
        }
        Set<TopicPartition> assigned = consumer.assignment();
        busy.retainAll(assigned);
        Set<TopicPartition> resume = new HashSet<>(consumer.paused());
        resume.removeAll(busy);
        consumer.pause(busy);
        consumer.resume(resume);
        observer.pausedPartitions(busy.size());
    }

    private void abandonInFlight() {
        if (inFlight != null) {
            inFlight.signal().abandon();
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            partitions.forEach(waiting::remove);
            Map<TopicPartition, OffsetAndMetadata> leaving = new HashMap<>(toCommit);
            leaving.keySet().retainAll(partitions);
            if (!leaving.isEmpty()) {
                tryCommit(leaving); // last chance; otherwise the new owner finds the record answered
            }
            if (inFlight != null && partitions.contains(inFlight.partition())) {
                LOG.info("partition {} revoked while its job runs: abandoning it to the new owner", inFlight.partition());
                abandonInFlight();
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            member = false;
            partitions.forEach(waiting::remove);
            if (inFlight != null && partitions.contains(inFlight.partition())) {
                abandonInFlight();
            }
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            member = true;
            if (!partitions.isEmpty()) {
                LOG.info("assigned {}", partitions);
            }
        }
    }

    /**
     * Stops taking new jobs, lets the running one finish within the drain timeout (then abandons it,
     * uncommitted), commits what finished and leaves the group.
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
