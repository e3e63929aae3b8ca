package org.llmattrib.service;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The share group's backlog on the request topic as the gauge {@code attribution_queue_backlog}:
 * the sum over partitions of the share-partition lag (KIP-1226, Kafka 4.2+), i.e. the requests
 * not yet acknowledged, waiting or running. KEDA's Kafka scaler reads consumer-group lag only, so
 * share-mode autoscaling uses this gauge through Prometheus (deploy/k8s/keda-scaledobject.yaml).
 * Refreshed off the event loop every {@code periodMs}; -1 until the first answer.
 */
final class QueueBacklog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QueueBacklog.class);

    private final Vertx vertx;
    private final Admin admin;
    private final String group;
    private final String topic;
    private final AtomicLong backlog = new AtomicLong(-1);
    private final long timer;

    /** @param kafka client properties (bootstrap servers, security) */
    QueueBacklog(Vertx vertx, Properties kafka, String group, String topic, MeterRegistry registry, long periodMs) {
        this.vertx = vertx;
        this.admin = Admin.create(kafka);
        this.group = group;
        this.topic = topic;
        Gauge.builder("attribution.queue.backlog", backlog, AtomicLong::get)
                .description("requests of the share group not yet acknowledged (waiting or running)").register(registry);
        this.timer = vertx.setPeriodic(0, periodMs, id -> vertx.executeBlocking(this::refresh, false));
    }

    private long refresh() {
        try {
            int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
                    .partitions().size();
            List<TopicPartition> tps = IntStream.range(0, partitions).mapToObj(p -> new TopicPartition(topic, p)).toList();
            Map<TopicPartition, SharePartitionOffsetInfo> offsets = admin.listShareGroupOffsets(
                    Map.of(group, new ListShareGroupOffsetsSpec().topicPartitions(tps)))
                    .partitionsToOffsetInfo(group).get(30, TimeUnit.SECONDS);
            long sum = offsets.values().stream().filter(o -> o != null).mapToLong(o -> o.lag().orElse(0L)).sum();
            backlog.set(sum);
        } catch (Exception e) {
            LOG.debug("share-group backlog unavailable: {}", e.toString());
        }
        return backlog.get();
    }

    /** The last value read (for tests and logs). */
    long value() {
        return backlog.get();
    }

    @Override
    public void close() {
        vertx.cancelTimer(timer);
        admin.close();
    }
}
