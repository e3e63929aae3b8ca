package org.llmattrib.service;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/** Every record of one topic from its beginning, with headers, collected by a thread of its own. */
final class TopicRecords implements AutoCloseable {
    private final KafkaConsumer<String, byte[]> consumer;
    private final List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    TopicRecords(String bootstrap, String topic) {
        consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()));
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        thread = new Thread(this::loop, "read-" + topic);
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                    synchronized (records) {
                        records.add(r);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    List<ConsumerRecord<String, byte[]>> all() {
        synchronized (records) {
            return List.copyOf(records);
        }
    }

    /** The results-topic records of one job (by the event's job id, whatever the key). */
    List<ConsumerRecord<String, byte[]>> ofJob(String jobId) {
        return all().stream().filter(r -> Protocol.decodeEvent(r.value()).jobId().equals(jobId)).toList();
    }

    List<AttributionEvent> events(String jobId) {
        return ofJob(jobId).stream().map(r -> Protocol.decodeEvent(r.value())).toList();
    }

    boolean finished(String jobId) {
        return events(jobId).stream()
                .anyMatch(e -> e instanceof AttributionEvent.Completed || e instanceof AttributionEvent.Failed);
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
