package org.llmattrib.service;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.protocol.Control;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the control topic outside any consumer group (every worker must see every cancel) and
 * remembers the cancelled job ids; jobs poll it between steps.
 */
public final class CancelListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CancelListener.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Set<String> cancelled = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean running = true;

    public CancelListener(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        consumer = new KafkaConsumer<>(p);
        thread = new Thread(this::loop, "attribution-control");
        thread.setDaemon(true);
    }

    public CancelListener start() {
        thread.start();
        return this;
    }

    public boolean isCancelled(String jobId) {
        return cancelled.contains(jobId);
    }

    private void loop() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(Protocol.CONTROL_TOPIC, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            // a cancel may be sent before its job reaches this worker: read the recent history too
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        Control c = Protocol.decodeControl(r.value());
                        cancelled.add(c.jobId());
                    } catch (ProtocolException e) {
                        LOG.warn("ignoring bad control message at offset {}: {}", r.offset(), e.getMessage());
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
    }
}
