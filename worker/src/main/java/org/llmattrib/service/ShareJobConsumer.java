package org.llmattrib.service;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.errors.InvalidRecordStateException;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request consumer of one worker in a share group (KIP-932): acquires one record at a time
 * (explicit acknowledgement, {@code share.acquire.mode=record_limit}, {@code max.poll.records=1}, so
 * a busy worker holds nothing another worker could run), runs it on the job thread, and while it
 * runs keeps polling and renews the record's acquisition lock ({@code RENEW}, KIP-1222) every third
 * of the lock duration, so that a job of any length stays with its live worker and goes to another
 * one only when this one dies (its lock then times out). The record is settled when its handler
 * returns: ACCEPT after {@code completed}, REJECT after {@code failed}, RELEASE when it did not
 * finish here. On {@link #close()} the running job may finish within the drain timeout (and is
 * settled so, once); after it, it is abandoned and RELEASEd for another worker.
 *
 * <p>A busy member must not hold a record it does not run. The client fetches ahead whenever a
 * poll found nothing, and one such request, processed by its network thread just after the fetch
 * that brought the record now running, acquires one more record into its buffer, where it stays
 * unseen (a poll returns the running record, renewed, as long as that one is in flight) until the
 * job ends; meanwhile its lock runs out and the broker gives it to another member. So an idle
 * member polls seldom ({@link #IDLE_POLL}: one fetch-ahead a second, not ten), and every record is
 * renewed before it runs: a record whose lock ran out in the buffer is skipped, never run twice.
 *
 * <p>Health as {@link JobConsumer}'s: ready once a poll as a member of the share group succeeded,
 * not alive once the poll loop has died of an error.
 *
 * <p>KafkaShareConsumer is not thread-safe: everything touching it runs on the poll thread.
 */
public final class ShareJobConsumer implements JobQueue {
    private static final Logger LOG = LoggerFactory.getLogger(ShareJobConsumer.class);
    /** How long an idle member's poll waits for a record (each poll that finds none fetches ahead once). */
    private static final Duration IDLE_POLL = Duration.ofSeconds(1);
    /** A busy member's poll: its renewed record is back at once, or soon. */
    private static final Duration BUSY_POLL = Duration.ofMillis(100);
    /** Assumed until the broker reports the group's acquisition lock duration. */
    private static final int DEFAULT_LOCK_MS = 15_000;
    private static final Duration COMMIT = Duration.ofSeconds(30);

    /** Runs one record to its end unless {@code signal.abandoned()} becomes true. */
    interface Handler {
        Settlement handle(ConsumerRecord<String, byte[]> record, JobSignal signal);
    }

    /** The record being run: held while the latest poll returned it and it is not acknowledged yet. */
    private static final class Job {
        ConsumerRecord<String, byte[]> record;
        final JobSignal signal = new JobSignal();
        final CompletableFuture<Settlement> result = new CompletableFuture<>();
        boolean held = true;
        long lastSeen = System.currentTimeMillis();

        Job(ConsumerRecord<String, byte[]> record) {
            this.record = record;
        }

        boolean is(ConsumerRecord<String, byte[]> r) {
            return r.topic().equals(record.topic()) && r.partition() == record.partition() && r.offset() == record.offset();
        }
    }

    private final KafkaShareConsumer<String, byte[]> consumer;
    private final Properties kafka;
    private final String group;
    private final String topic;
    private final Handler handler;
    private final JobConsumer.Observer observer;
    private final Duration drainTimeout;
    private final Duration stallTimeout;
    private final ExecutorService jobThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "attribution-job"));
    private final Thread pollThread;
    private volatile boolean running = true;
    private volatile long drainUntilNanos;
    private volatile boolean polled;
    private volatile Throwable died;
    /** Written by the poll thread only; read by close() to abandon the running job. */
    private volatile Job job;

    /**
     * @param kafka client properties (bootstrap servers, security), also for the Admin client that
     *     configures the group
     * @param drainTimeout on {@link #close()}, how long the running job may still take to finish
     * @param stallTimeout a job silent for longer (no checkpoint) is given up and this consumer dies
     */
    ShareJobConsumer(Properties kafka, String group, String topic, Handler handler, JobConsumer.Observer observer,
            Duration drainTimeout, Duration stallTimeout) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.SHARE_ACKNOWLEDGEMENT_MODE_CONFIG, "explicit");
        p.put(ConsumerConfig.SHARE_ACQUIRE_MODE_CONFIG, "record_limit");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaShareConsumer<>(p);
        this.kafka = kafka;
        this.group = group;
        this.topic = topic;
        this.handler = handler;
        this.observer = observer;
        this.drainTimeout = drainTimeout;
        this.stallTimeout = stallTimeout;
        this.pollThread = new Thread(this::pollLoop, "attribution-poll");
    }

    /**
     * Sets the share group's configuration that the queue relies on, then starts polling:
     * {@code share.auto.offset.reset=earliest} (a new group, e.g. the first worker KEDA starts,
     * must see the requests sent before it) and {@code share.renew.acknowledge.enable=true}. A
     * worker without the right to alter the group only warns: then an operator sets them.
     */
    @Override
    public void start() {
        configureGroup();
        pollThread.start();
    }

    private void configureGroup() {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
        List<AlterConfigOp> ops = List.of(
                new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("share.renew.acknowledge.enable", "true"), AlterConfigOp.OpType.SET));
        try (Admin admin = Admin.create(kafka)) {
            admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("could not set share.auto.offset.reset=earliest and share.renew.acknowledge.enable=true on "
                    + "share group {} ({}); set them with kafka-configs.sh", group, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** True once the consumer has polled the broker successfully as a member of the share group, until close. */
    @Override
    public boolean ready() {
        return polled && running && died == null;
    }

    @Override
    public boolean alive() {
        return died == null;
    }

    private void pollLoop() {
        try {
            consumer.setAcknowledgementCommitCallback(this::acknowledged);
            consumer.subscribe(List.of(topic));
            while (running || (job != null && draining())) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(job == null ? IDLE_POLL : BUSY_POLL)) {
                    take(r);
                }
                polled = true;
                if (job != null) {
                    settleOrRenew();
                }
            }
        } catch (Throwable e) {
            died = e;
            LOG.error("the request consumer died; /health/live now answers 503", e);
        } finally {
            stopJob();
            consumer.close();
        }
    }

    /** Closing, and the running job still has time to finish. */
    private boolean draining() {
        return System.nanoTime() < drainUntilNanos;
    }

    private void take(ConsumerRecord<String, byte[]> r) {
        if (job == null && running) {
            if (!renewBeforeRun(r)) {
                return;
            }
            Job started = new Job(r);
            // renewed: it comes back with the next poll
            started.held = false;
            job = started;
            observer.queueWait(Math.max(0, System.currentTimeMillis() - r.timestamp()));
            jobThread.execute(() -> run(started));
        } else if (job != null && job.is(r)) {
            // returned again after a renewal: held once more
            job.record = r;
            job.held = true;
            job.lastSeen = System.currentTimeMillis();
        } else {
            LOG.warn("acquired {}-{}@{} while busy or closing: released", r.topic(), r.partition(), r.offset());
            consumer.acknowledge(r, AcknowledgeType.RELEASE);
        }
    }

    /**
     * Renews a record's lock before it runs: false when the lock has run out (the record waited in
     * the client's buffer; the broker has handed it to another member or will), so it is skipped.
     */
    private boolean renewBeforeRun(ConsumerRecord<String, byte[]> r) {
        consumer.acknowledge(r, AcknowledgeType.RENEW);
        try {
            for (Optional<KafkaException> error : consumer.commitSync(COMMIT).values()) {
                if (error.isPresent() && error.get() instanceof InvalidRecordStateException) {
                    LOG.warn("{}-{}@{} was held past its acquisition lock: skipped, another member runs it", r.topic(),
                            r.partition(), r.offset());
                    return false;
                }
                error.ifPresent(e -> LOG.warn("renewing {}-{}@{} before it runs failed; running it: {}", r.topic(),
                        r.partition(), r.offset(), e.getMessage()));
            }
        } catch (KafkaException e) {
            LOG.warn("renewing {}-{}@{} before it runs failed; running it: {}", r.topic(), r.partition(), r.offset(),
                    e.getMessage());
        }
        return true;
    }

    private void run(Job started) {
        Settlement settlement = Settlement.RETRY;
        try {
            settlement = handler.handle(started.record, started.signal);
        } catch (RuntimeException e) {
            LOG.error("job at {}-{}@{} could not be finished; it is released", started.record.topic(),
                    started.record.partition(), started.record.offset(), e);
        } finally {
            // whatever was thrown (even an Error), the record must be settled
            started.result.complete(settlement);
        }
    }

    /**
     * With the record held (returned by the latest poll), waits up to a third of the lock duration
     * for the job (while closing, no longer than the drain timeout): settles it when done, renews its
     * lock otherwise. A record not held has a renewal on the way; if it has not come back within a
     * lock duration, the delivery is lost (the broker hands the record to another worker) and the job
     * is abandoned.
     */
    private void settleOrRenew() {
        if (job.signal.silentFor(stallTimeout) && !job.result.isDone()) {
            giveUpStalled();
        }
        int lockMs = consumer.acquisitionLockTimeoutMs().orElse(DEFAULT_LOCK_MS);
        if (!job.held) {
            if (System.currentTimeMillis() - job.lastSeen > lockMs) {
                LOG.warn("the acquisition lock of {}-{}@{} was lost; the job is abandoned", job.record.topic(),
                        job.record.partition(), job.record.offset());
                lose();
            }
            return;
        }
        long waitMs = running ? lockMs / 3
                : Math.min(lockMs / 3, TimeUnit.NANOSECONDS.toMillis(Math.max(0, drainUntilNanos - System.nanoTime())));
        Optional<Settlement> settlement = await(job.result, waitMs);
        if (settlement.isPresent()) {
            settle(settlement.get());
        } else if (running || draining()) {
            renew();
        }
    }

    /**
     * Renews the lock with commitSync (a ShareAcknowledge request) rather than with the next poll:
     * a poll would piggyback the renewal on a ShareFetch that also acquires the next record, which
     * this busy worker could neither run nor surface before that record's lock timed out (counting
     * a delivery against it). The renewed record comes back with the next poll.
     */
    private void renew() {
        ConsumerRecord<String, byte[]> record = job.record;
        consumer.acknowledge(record, AcknowledgeType.RENEW);
        job.held = false;
        try {
            // a refused renewal reaches acknowledged(), which abandons the job
            consumer.commitSync(COMMIT);
        } catch (KafkaException e) {
            LOG.warn("renewing the lock of {}-{}@{} failed: {}", record.topic(), record.partition(), record.offset(),
                    e.getMessage());
        }
    }

    private void settle(Settlement settlement) {
        ConsumerRecord<String, byte[]> record = job.record;
        consumer.acknowledge(record, switch (settlement) {
            case COMPLETED -> AcknowledgeType.ACCEPT;
            case FAILED -> AcknowledgeType.REJECT;
            case RETRY -> AcknowledgeType.RELEASE;
        });
        job = null;
        try {
            for (Map.Entry<TopicIdPartition, Optional<KafkaException>> e : consumer.commitSync(COMMIT).entrySet()) {
                e.getValue().ifPresent(error -> warnUnsettled(settlement, record, error));
            }
        } catch (KafkaException e) {
            // e.g. the broker is away: not a reason to stop consuming
            warnUnsettled(settlement, record, e);
        }
    }

    private static void warnUnsettled(Settlement settlement, ConsumerRecord<String, byte[]> record, Exception error) {
        LOG.warn("settling {}-{}@{} as {} failed; the broker may deliver it again: {}", record.topic(), record.partition(),
                record.offset(), settlement, error.getMessage());
    }

    /** On the poll thread, from poll() or commitSync(): a failed renewal ends this delivery. */
    private void acknowledged(Map<TopicIdPartition, Set<Long>> offsets, Exception error) {
        if (error == null || job == null) {
            return;
        }
        for (Map.Entry<TopicIdPartition, Set<Long>> e : offsets.entrySet()) {
            if (e.getKey().topic().equals(job.record.topic()) && e.getKey().partition() == job.record.partition()
                    && e.getValue().contains(job.record.offset())) {
                LOG.warn("renewing {}-{}@{} failed ({}); the job is abandoned", job.record.topic(),
                        job.record.partition(), job.record.offset(), error.getMessage());
                lose();
                return;
            }
        }
    }

    /**
     * The job's thread hangs: release its record at once (it runs again elsewhere, a delivery
     * counted against it) and end the poll loop, so that the worker reports it is not live.
     */
    private void giveUpStalled() {
        job.signal.abandon();
        ConsumerRecord<String, byte[]> record = job.record;
        if (job.held) {
            settle(Settlement.RETRY);
        }
        job = null;
        throw new JobSignal.Stalled(record.topic() + "-" + record.partition() + "@" + record.offset(), stallTimeout);
    }

    /** The delivery ended without us: stop the job, publish nothing more, acknowledge nothing. */
    private void lose() {
        job.signal.abandon();
        awaitEnd(job);
        job = null;
    }

    /**
     * The poll loop ended: abandon the running job and, when this consumer still holds its record,
     * settle it as the job ended: RELEASE when it stopped unfinished, ACCEPT or REJECT when it ended
     * in the meantime (otherwise closing the consumer releases it, and failing that its lock times out).
     */
    private void stopJob() {
        jobThread.shutdown();
        if (job == null) {
            return;
        }
        job.signal.abandon();
        Settlement settlement = awaitEnd(job);
        if (job.held) {
            ConsumerRecord<String, byte[]> record = job.record;
            try {
                settle(settlement);
            } catch (RuntimeException e) {
                LOG.warn("could not settle {}-{}@{}: {}", record.topic(), record.partition(), record.offset(),
                        e.getMessage());
            }
        }
        job = null;
    }

    private static Settlement awaitEnd(Job job) {
        // the job stops at its next checkpoint; the model must not be closed under it
        return await(job.result, TimeUnit.MINUTES.toMillis(5)).orElse(Settlement.RETRY);
    }

    private static Optional<Settlement> await(CompletableFuture<Settlement> result, long millis) {
        try {
            return Optional.of(result.get(millis, TimeUnit.MILLISECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

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
