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
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
 * The request queue as a consumer group, the settlement policy that commits offsets in order: it
 * keeps polling (so the group never evicts it during a long job), runs one record at a time
 * ({@link QueueLoop}), and pauses exactly the partitions that have a record running or waiting, so
 * records are started in offset order and offsets only move forward. A record's offset is committed
 * after its handler returns done, i.e. after its final event was acknowledged by the broker:
 * at-least-once end to end; a record not done is sought back to and runs again.
 *
 * <p>A commit that fails (a rebalance in progress, a broker moving) is retried on the next polls
 * while the partition stays here; when it moves, the new owner gets the record again and finds it
 * answered (see {@code JobRegistry}). Any other error ends the poll loop: {@link #alive()} turns
 * false, so that the health check reports it and the worker gets restarted. A stalled job is given
 * back by leaving the group uncommitted.
 */
public final class JobConsumer extends QueueLoop {
    private static final Logger LOG = LoggerFactory.getLogger(JobConsumer.class);
    private static final Duration POLL = Duration.ofMillis(100);

    /**
     * Runs one record to its end unless {@code signal.abandoned()} becomes true; returns true when the
     * record is done for good (its final event acknowledged) and its offset may be committed.
     */
    interface RecordHandler {
        boolean handle(ConsumerRecord<String, byte[]> record, JobSignal signal);
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final Map<TopicPartition, Deque<ConsumerRecord<String, byte[]>>> waiting = new HashMap<>();
    private final Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
    /** The last commit failed: the retries are not logged again. */
    private boolean commitFailing;

    /**
     * @param kafka client properties (bootstrap servers, security)
     * @param instanceId static membership ({@code group.instance.id}), or null
     * @param drainTimeout on {@link #close()}, how long the running job may still take to finish
     * @param stallTimeout a job silent for longer (no checkpoint) is given up and this consumer dies
     */
    JobConsumer(Properties kafka, String group, String instanceId, String topic, RecordHandler handler,
            Observer observer, Map<String, Object> overrides, Duration drainTimeout, Duration stallTimeout) {
        super((record, signal) -> handler.handle(record, signal) ? Settlement.COMPLETED : Settlement.RETRY, observer,
                drainTimeout, stallTimeout);
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
    }

    @Override
    void subscribe() {
        consumer.subscribe(List.of(topic), new Rebalance());
    }

    /** Polls even while a job runs (the partitions it blocks are paused): records queue up per partition. */
    @Override
    void poll(boolean busy) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
            if (taking()) {
                waiting.computeIfAbsent(partition(r), k -> new ArrayDeque<>()).add(r);
            }
        }
    }

    @Override
    void tend(Job job) {
        ended(job, 0).ifPresent(settlement -> finish(job, settlement.done()));
    }

    @Override
    void afterPoll() {
        commitPending();
        if (taking()) {
            startNextJob();
        }
        updatePauses();
    }

    /** The partition goes to another member when this consumer leaves the group, uncommitted. */
    @Override
    void giveBack(Job job) {
    }

    @Override
    void stopped(Job job, Settlement ended) {
        if (!alive()) {
            return;
        }
        if (job != null) {
            finish(job, ended.done());
        }
        commitPending();
    }

    @Override
    void closeConsumer() {
        consumer.close();
    }

    private static TopicPartition partition(ConsumerRecord<String, byte[]> record) {
        return new TopicPartition(record.topic(), record.partition());
    }

    private void startNextJob() {
        if (job() != null) {
            return;
        }
        for (Deque<ConsumerRecord<String, byte[]>> queue : waiting.values()) {
            ConsumerRecord<String, byte[]> record = queue.poll();
            if (record != null) {
                startJob(record);
                return;
            }
        }
    }

    /**
     * A finished record's offset is queued for commit; a record that is not done (abandoned,
     * revoked, final event not acknowledged) is sought back to, so this worker or the next owner
     * runs it again.
     */
    private void finish(Job job, boolean done) {
        TopicPartition partition = partition(job.record);
        if (!consumer.assignment().contains(partition)) {
            return;
        }
        if (done) {
            toCommit.put(partition, new OffsetAndMetadata(job.record.offset() + 1));
        } else if (taking()) {
            waiting.remove(partition);
            consumer.seek(partition, job.record.offset());
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
        Job running = job();
        if (running != null) {
            busy.add(partition(running.record));
        }
        busy.retainAll(consumer.assignment());
        Set<TopicPartition> resume = new HashSet<>(consumer.paused());
        resume.removeAll(busy);
        consumer.pause(busy);
        consumer.resume(resume);
        observer.pausedPartitions(busy.size());
    }

    /** Abandons the running job when its partition is among those that left this consumer. */
    private void abandonIfIn(Collection<TopicPartition> partitions, String why) {
        Job running = job();
        if (running != null && partitions.contains(partition(running.record))) {
            LOG.info("partition {} {} while its job runs: abandoning it to the new owner", partition(running.record), why);
            running.signal.abandon();
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
            abandonIfIn(partitions, "revoked");
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            member = false;
            partitions.forEach(waiting::remove);
            abandonIfIn(partitions, "lost");
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            member = true;
            if (!partitions.isEmpty()) {
                LOG.info("assigned {}", partitions);
            }
        }
    }
}
