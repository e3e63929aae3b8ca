package org.llmattrib.service;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
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
 * The request queue as a share group (KIP-932), the settlement policy that acknowledges each
 * record: acquires one record at a time (explicit acknowledgement, {@code
 * share.acquire.mode=record_limit}, {@code max.poll.records=1}, so a busy worker holds nothing
 * another worker could run), runs it on the job thread ({@link QueueLoop}), and while it
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
 * <p>A job that stalls has its record RELEASEd at once. Health as {@link JobConsumer}'s: ready once
 * a poll as a member of the share group succeeded, not alive once the poll loop has died of an
 * error.
 */
public final class ShareJobConsumer extends QueueLoop {
    private static final Logger LOG = LoggerFactory.getLogger(ShareJobConsumer.class);
    /** How long an idle member's poll waits for a record (each poll that finds none fetches ahead once). */
    private static final Duration IDLE_POLL = Duration.ofSeconds(1);
    /** A busy member's poll: its renewed record is back at once, or soon. */
    private static final Duration BUSY_POLL = Duration.ofMillis(100);
    /** Assumed until the broker reports the group's acquisition lock duration. */
    private static final int DEFAULT_LOCK_MS = 15_000;
    private static final Duration COMMIT = Duration.ofSeconds(30);

    private final KafkaShareConsumer<String, byte[]> consumer;
    private final Properties kafka;
    private final String group;
    private final String topic;
    /** The running record as the latest poll returned it: what is acknowledged. */
    private ConsumerRecord<String, byte[]> latest;
    /** The latest poll returned the running record and it is not acknowledged since (no renewal on the way). */
    private boolean held;
    /** When a poll last returned the running record. */
    private long lastSeen;

    /**
     * @param kafka client properties (bootstrap servers, security), also for the Admin client that
     *     configures the group
     * @param drainTimeout on {@link #close()}, how long the running job may still take to finish
     * @param stallTimeout a job silent for longer (no checkpoint) is given up and this consumer dies
     */
    ShareJobConsumer(Properties kafka, String group, String topic, Handler handler, Observer observer,
            Duration drainTimeout, Duration stallTimeout) {
        super(handler, observer, drainTimeout, stallTimeout);
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
        super.start();
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

    @Override
    void subscribe() {
        consumer.setAcknowledgementCommitCallback(this::acknowledged);
        consumer.subscribe(List.of(topic));
    }

    /** Ready once a poll as a member of the share group succeeded. */
    @Override
    void poll(boolean busy) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(busy ? BUSY_POLL : IDLE_POLL)) {
            take(r);
        }
        member = true;
    }

    private void take(ConsumerRecord<String, byte[]> r) {
        Job running = job();
        if (running == null && taking()) {
            if (!renewBeforeRun(r)) {
                return;
            }
            // renewed: it comes back with the next poll
            latest = r;
            held = false;
            lastSeen = System.currentTimeMillis();
            startJob(r);
        } else if (running != null && sameRecord(running.record, r)) {
            // returned again after a renewal: held once more
            latest = r;
            held = true;
            lastSeen = System.currentTimeMillis();
        } else {
            LOG.warn("acquired {}-{}@{} while busy or closing: released", r.topic(), r.partition(), r.offset());
            consumer.acknowledge(r, AcknowledgeType.RELEASE);
        }
    }

    private static boolean sameRecord(ConsumerRecord<String, byte[]> a, ConsumerRecord<String, byte[]> b) {
        return a.topic().equals(b.topic()) && a.partition() == b.partition() && a.offset() == b.offset();
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

    /**
     * With the record held (returned by the latest poll), waits up to a third of the lock duration
     * for the job (while closing, no longer than the drain timeout): settles it when done, renews its
     * lock otherwise. A record not held has a renewal on the way; if it has not come back within a
     * lock duration, the delivery is lost (the broker hands the record to another worker) and the job
     * is abandoned.
     */
    @Override
    void tend(Job job) {
        int lockMs = consumer.acquisitionLockTimeoutMs().orElse(DEFAULT_LOCK_MS);
        if (!held) {
            if (System.currentTimeMillis() - lastSeen > lockMs) {
                LOG.warn("the acquisition lock of {} was lost; the job is abandoned", job.source());
                abandon(job);
            }
            return;
        }
        Optional<Settlement> settlement = ended(job, taking() ? lockMs / 3 : Math.min(lockMs / 3, drainLeftMillis()));
        if (settlement.isPresent()) {
            settle(settlement.get());
        } else if (taking() || draining()) {
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
        ConsumerRecord<String, byte[]> record = latest;
        consumer.acknowledge(record, AcknowledgeType.RENEW);
        held = false;
        try {
            // a refused renewal reaches acknowledged(), which abandons the job
            consumer.commitSync(COMMIT);
        } catch (KafkaException e) {
            LOG.warn("renewing the lock of {}-{}@{} failed: {}", record.topic(), record.partition(), record.offset(),
                    e.getMessage());
        }
    }

    /** ACCEPT after {@code completed}, REJECT after {@code failed}, RELEASE when the job did not end here. */
    private void settle(Settlement settlement) {
        ConsumerRecord<String, byte[]> record = latest;
        consumer.acknowledge(record, switch (settlement) {
            case COMPLETED -> AcknowledgeType.ACCEPT;
            case FAILED -> AcknowledgeType.REJECT;
            case RETRY -> AcknowledgeType.RELEASE;
        });
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

    /** On the poll thread, from poll() or commitSync(): a failed renewal ends this delivery (the job is abandoned). */
    private void acknowledged(Map<TopicIdPartition, Set<Long>> offsets, Exception error) {
        Job running = job();
        if (error == null || running == null) {
            return;
        }
        for (Map.Entry<TopicIdPartition, Set<Long>> e : offsets.entrySet()) {
            if (e.getKey().topic().equals(running.record.topic()) && e.getKey().partition() == running.record.partition()
                    && e.getValue().contains(running.record.offset())) {
                LOG.warn("renewing {} failed ({}); the job is abandoned", running.source(), error.getMessage());
                abandon(running);
                return;
            }
        }
    }

    /** Released at once (it runs again elsewhere, a delivery counted against it), unless a renewal is on the way. */
    @Override
    void giveBack(Job job) {
        if (held) {
            settle(Settlement.RETRY);
        }
    }

    /**
     * Settles the record as the job ended, when this consumer still holds it: RELEASE when it
     * stopped unfinished, ACCEPT or REJECT when it ended in the meantime (otherwise closing the
     * consumer releases it, and failing that its lock times out).
     */
    @Override
    void stopped(Job job, Settlement ended) {
        if (job != null && held) {
            settle(ended);
        }
    }

    @Override
    void closeConsumer() {
        consumer.close();
    }
}
