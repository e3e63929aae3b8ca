package org.llmattrib.service;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Attempt counts for consumer-group mode, where the broker counts nothing: a compacted topic
 * {@value #TOPIC} keyed by the request's {@code topic/partition@offset}, value the number of runs
 * started (a decimal string). A worker reads the topic up to its end, then writes the incremented
 * count (acks=all) before it starts the job, so a worker killed mid-job has already counted its
 * run; a finished request's key gets a tombstone, so the topic stays as small as the backlog.
 */
final class AttemptLog implements AttemptCounter, AutoCloseable {
    static final String TOPIC = "attribution.attempts";
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> consumer;
    private final List<TopicPartition> partitions;
    private final Map<String, Integer> counts = new HashMap<>();

    /**
     * @param kafka client properties (bootstrap servers, security)
     * @param producer the worker's producer (idempotent, acks=all); not closed here
     */
    AttemptLog(Properties kafka, KafkaProducer<String, byte[]> producer) {
        this.producer = producer;
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(props);
        List<PartitionInfo> info = consumer.partitionsFor(TOPIC, TIMEOUT);
        if (info == null || info.isEmpty()) {
            consumer.close();
            throw new IllegalStateException("topic " + TOPIC + " is missing: create it with cleanup.policy=compact "
                    + "(group mode counts the attempts of each request there)");
        }
        this.partitions = info.stream().map(p -> new TopicPartition(TOPIC, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    @Override
    public int started(ConsumerRecord<String, byte[]> record) {
        catchUp();
        String key = key(record);
        int attempt = counts.getOrDefault(key, 0) + 1;
        write(key, Integer.toString(attempt).getBytes(StandardCharsets.UTF_8));
        counts.put(key, attempt);
        return attempt;
    }

    @Override
    public void finished(ConsumerRecord<String, byte[]> record) {
        String key = key(record);
        write(key, null);
        counts.remove(key);
    }

    static String key(ConsumerRecord<?, ?> record) {
        return record.topic() + "/" + record.partition() + "@" + record.offset();
    }

    /** Reads every count written so far, by any worker. */
    private void catchUp() {
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
        long until = System.currentTimeMillis() + TIMEOUT.toMillis();
        while (partitions.stream().anyMatch(tp -> consumer.position(tp, TIMEOUT) < end.get(tp))) {
            if (System.currentTimeMillis() > until) {
                throw new IllegalStateException("cannot read " + TOPIC + " to its end");
            }
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                if (r.value() == null) {
                    counts.remove(r.key());
                } else {
                    counts.put(r.key(), parse(r.value()));
                }
            }
        }
    }

    private static int parse(byte[] value) {
        try {
            return Integer.parseInt(new String(value, StandardCharsets.UTF_8).trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private void write(String key, byte[] value) {
        try {
            producer.send(new ProducerRecord<>(TOPIC, key, value)).get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot write the attempt count of " + key + ": " + e.getCause().getMessage(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        consumer.close();
    }
}
