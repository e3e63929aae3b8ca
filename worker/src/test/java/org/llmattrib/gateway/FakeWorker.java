package org.llmattrib.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;

/**
 * Publishes hand-made events on the results topic as a worker would (key = job id), so tests
 * decide exactly when a job is "mid-run", and reads topics back to their end.
 */
final class FakeWorker implements AutoCloseable {
    private final String bootstrap;
    private final KafkaProducer<String, byte[]> producer;

    FakeWorker(String bootstrap) {
        this.bootstrap = bootstrap;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
    }

    static AttributionEvent.Accepted accepted(String jobId) {
        return new AttributionEvent.Accepted(AttributionEvent.SCHEMA, jobId, 0, "fake-worker", "tiny", "shapley_values",
                List.of("Dave", " lives", " in Palm Coast"), List.of(" playing", " golf"));
    }

    /** Token {@code index} (seq index + 1) with numbers that need full precision to survive a round trip. */
    static AttributionEvent.Token token(String jobId, int index) {
        return new AttributionEvent.Token(AttributionEvent.SCHEMA, jobId, index + 1, index, 1000 + index,
                index == 0 ? " playing" : " golf", -3.0000000000000004 - index,
                List.of(0.1 + 0.2 + index, -1.2345678901234567e-7, 12345.678901234567), null, null, null);
    }

    static AttributionEvent.Completed completed(String jobId) {
        return new AttributionEvent.Completed(AttributionEvent.SCHEMA, jobId, 3, List.of(1.3, -2.4691357802469134e-7,
                24691.357802469134), List.of(" playing", " golf"), List.of(1000L, 1001L), null,
                Map.of("queue_ms", 1.0, "first_token_ms", 2.0, "total_ms", 3.5), Map.of("forwards", 4L));
    }

    void publish(AttributionEvent... events) {
        publishAt(null, events);
    }

    /** Publishes with the given record time (epoch ms; null: the producer's clock). */
    void publishAt(Long timestamp, AttributionEvent... events) {
        for (AttributionEvent e : events) {
            producer.send(new ProducerRecord<>(Protocol.RESULTS_TOPIC, null, timestamp, e.jobId(), Protocol.encode(e)));
        }
        producer.flush();
    }

    /** A worker's record of who owns a job id, on {@code attribution.jobs}. */
    void publishOwner(JobStatus status) {
        producer.send(new ProducerRecord<>(Protocol.JOBS_TOPIC, status.jobId(), Protocol.encode(status)));
        producer.flush();
    }

    /** Every record of {@code topic} up to its current end. */
    List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = c.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    @Override
    public void close() {
        producer.close();
    }
}
