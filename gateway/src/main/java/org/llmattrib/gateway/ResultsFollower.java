package org.llmattrib.gateway;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.protocol.Protocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every partition of {@code attribution.results} from the earliest retained offset, on a
 * thread of its own, with no consumer group: every gateway (a restarted one, a second replica)
 * reads the same records. Hands decoded batches to {@code sink} in order, and {@code onCaughtUp}
 * once it has read up to the end offsets it saw at start.
 */
final class ResultsFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ResultsFollower.class);

    /** One record of the results topic, decoded. */
    record Received(String jobId, long timestamp, StoredEvent event) {}

    private final KafkaConsumer<String, byte[]> consumer;
    private final Consumer<List<Received>> sink;
    private final Runnable onCaughtUp;
    private final GatewayMetrics metrics;
    private final Thread thread;
    private volatile boolean running = true;

    ResultsFollower(String bootstrap, Map<String, Object> extra, GatewayMetrics metrics, Consumer<List<Received>> sink,
            Runnable onCaughtUp) {
        Properties p = new Properties();
        p.putAll(extra);
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(p);
        this.sink = sink;
        this.onCaughtUp = onCaughtUp;
        this.metrics = metrics;
        this.thread = new Thread(this::run, "gateway-results");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        try {
            List<TopicPartition> partitions = partitions();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            boolean caughtUp = false;
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    sink.accept(decode(records));
                }
                if (!caughtUp && partitions.stream().allMatch(tp -> consumer.position(tp) >= ends.get(tp))) {
                    caughtUp = true;
                    LOG.info("results topic read up to its end at start ({} partitions)", partitions.size());
                    onCaughtUp.run();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("the results consumer stopped: {}", e.toString(), e);
        } finally {
            consumer.close();
        }
    }

    /** Waits for the topic to exist (a gateway may start before the topics are created). */
    private List<TopicPartition> partitions() {
        while (running) {
            try {
                List<TopicPartition> found = consumer.partitionsFor(Protocol.RESULTS_TOPIC, Duration.ofSeconds(10))
                        .stream().map(info -> new TopicPartition(info.topic(), info.partition())).toList();
                if (!found.isEmpty()) {
                    return found;
                }
            } catch (TimeoutException e) {
                // no broker answer yet
            }
            LOG.warn("waiting for topic {} to exist", Protocol.RESULTS_TOPIC);
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new WakeupException(); // closed while waiting
    }

    private List<Received> decode(ConsumerRecords<String, byte[]> records) {
        List<Received> decoded = new ArrayList<>(records.count());
        for (ConsumerRecord<String, byte[]> r : records) {
            try {
                var event = Protocol.decodeEvent(r.value());
                decoded.add(new Received(event.jobId(), r.timestamp(),
                        new StoredEvent(event, new String(r.value(), StandardCharsets.UTF_8))));
            } catch (RuntimeException e) {
                metrics.undecodable();
                LOG.warn("skipping a record at {}-{}@{} that is not an attribution event: {}", r.topic(), r.partition(),
                        r.offset(), e.getMessage());
            }
        }
        return decoded;
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
