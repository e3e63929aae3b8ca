package org.llmattrib.protocol;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Submits attribution requests and follows a job's events, deduplicated on (job_id, seq). The
 * {@code attrib submit} command is built on it; applications can embed it.
 */
public final class AttributionClient implements AutoCloseable {
    private final String bootstrap;
    private final KafkaProducer<String, byte[]> producer;

    public AttributionClient(String bootstrap) {
        this.bootstrap = bootstrap;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        this.producer = new KafkaProducer<>(p);
    }

    public CompletableFuture<RecordMetadata> submit(AttributionRequest request) {
        return send(Protocol.REQUESTS_TOPIC, request.jobId(), Protocol.encode(request));
    }

    /** Sends raw bytes as a request (for clients that hold JSON already). */
    public CompletableFuture<RecordMetadata> submitRaw(String jobId, byte[] json) {
        return send(Protocol.REQUESTS_TOPIC, jobId, json);
    }

    public CompletableFuture<RecordMetadata> cancel(String jobId) {
        return send(Protocol.CONTROL_TOPIC, jobId, Protocol.encode(Control.cancel(jobId)));
    }

    private CompletableFuture<RecordMetadata> send(String topic, String key, byte[] value) {
        CompletableFuture<RecordMetadata> done = new CompletableFuture<>();
        producer.send(new ProducerRecord<>(topic, key, value), (metadata, error) -> {
            if (error != null) {
                done.completeExceptionally(error);
            } else {
                done.complete(metadata);
            }
        });
        return done;
    }

    /**
     * Feeds {@code onEvent} the events of {@code jobId}, each (job_id, seq) once, reading the results
     * topic from its start; returns the final event ({@code completed} or {@code failed}), or null
     * after {@code timeout}.
     */
    public AttributionEvent follow(String jobId, Duration timeout, Consumer<AttributionEvent> onEvent) {
        try (KafkaConsumer<String, byte[]> consumer = resultsConsumer(timeout, true)) {
            return await(consumer, jobId, timeout, onEvent);
        }
    }

    /**
     * Submits a request and follows its events from now on (earlier jobs with the same id are not
     * replayed); returns the final event, or null after {@code timeout}.
     */
    public AttributionEvent submitAndFollow(String jobId, byte[] json, Duration timeout, Consumer<AttributionEvent> onEvent) {
        try (KafkaConsumer<String, byte[]> consumer = resultsConsumer(timeout, false)) {
            submitRaw(jobId, json).join();
            return await(consumer, jobId, timeout, onEvent);
        }
    }

    private KafkaConsumer<String, byte[]> resultsConsumer(Duration timeout, boolean fromStart) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p);
        List<TopicPartition> partitions = new ArrayList<>();
        consumer.partitionsFor(Protocol.RESULTS_TOPIC, timeout)
                .forEach(info -> partitions.add(new TopicPartition(info.topic(), info.partition())));
        consumer.assign(partitions);
        if (fromStart) {
            consumer.seekToBeginning(partitions);
        } else {
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position); // resolve "end" now, before the request is sent
        }
        return consumer;
    }

    private static AttributionEvent await(KafkaConsumer<String, byte[]> consumer, String jobId, Duration timeout,
            Consumer<AttributionEvent> onEvent) {
        Instant end = Instant.now().plus(timeout);
        Set<Long> seen = new HashSet<>();
        while (Instant.now().isBefore(end)) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                if (!jobId.equals(r.key())) {
                    continue;
                }
                AttributionEvent event = Protocol.decodeEvent(r.value());
                if (!seen.add(event.seq())) {
                    continue;
                }
                onEvent.accept(event);
                if (event instanceof AttributionEvent.Completed || event instanceof AttributionEvent.Failed) {
                    return event;
                }
            }
        }
        return null;
    }

    @Override
    public void close() {
        producer.close();
    }
}
