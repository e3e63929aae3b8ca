package org.llmattrib.protocol;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Properties;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.apache.kafka.clients.CommonClientConfigs;
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
 * Submits attribution requests and reads a job's events, each (job_id, seq) once. Requests go out
 * keyed by job id through an idempotent producer with acks=all; events are read with a fresh
 * consumer assigned to every partition of {@code attribution.results} (no consumer group). The
 * {@code attrib submit} command is built on it; applications can embed it.
 */
public final class AttributionClient implements AutoCloseable {
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final Properties common;
    private final Duration connectTimeout;
    private final KafkaProducer<String, byte[]> producer;

    public AttributionClient(String bootstrapServers) {
        this(bootstrapServers, new Properties(), DEFAULT_CONNECT_TIMEOUT);
    }

    /** {@code extra} (security settings, say) applies to the producer and to every consumer. */
    public AttributionClient(String bootstrapServers, Properties extra) {
        this(bootstrapServers, extra, DEFAULT_CONNECT_TIMEOUT);
    }

    /**
     * {@code extra} (security settings, say) applies to the producer and to every consumer. A broker
     * not reached within {@code connectTimeout} fails the call with {@link KafkaUnreachableException}.
     */
    public AttributionClient(String bootstrapServers, Properties extra, Duration connectTimeout) {
        this.connectTimeout = connectTimeout;
        common = new Properties();
        common.putAll(extra);
        common.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        Properties p = new Properties();
        p.putAll(common);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) connectTimeout.toMillis());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
    }

    public CompletableFuture<RecordMetadata> submit(AttributionRequest request) {
        return submitRaw(request.jobId(), Protocol.encode(request));
    }

    /** Sends raw bytes as a request (for clients that hold JSON already; the worker validates them). */
    public CompletableFuture<RecordMetadata> submitRaw(String jobId, byte[] json) {
        return send(Protocol.REQUESTS_TOPIC, jobId, json);
    }

    /** Asks the workers to stop the job; it ends with a {@code failed} event of code {@code cancelled}. */
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
     * The events of {@code jobId} from the start of the results topic, as they arrive; the stream ends
     * after the {@code completed} or {@code failed} event, or when {@code timeout} has passed. Close
     * the stream (try-with-resources) when leaving it early; consume it on one thread.
     */
    public Stream<AttributionEvent> events(String jobId, Duration timeout) {
        JobEvents events = new JobEvents(jobId, timeout, true);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(events, Spliterator.ORDERED
                | Spliterator.NONNULL), false).onClose(events::close);
    }

    /**
     * Submits a request and feeds {@code onEvent} its events from now on (earlier jobs with the same id
     * are not replayed); returns the final event, or null after {@code timeout}.
     */
    public AttributionEvent submitAndFollow(String jobId, byte[] json, Duration timeout,
            Consumer<AttributionEvent> onEvent) {
        try (JobEvents events = new JobEvents(jobId, timeout, false)) {
            submitRaw(jobId, json).join();
            AttributionEvent last = null;
            while (events.hasNext()) {
                last = events.next();
                onEvent.accept(last);
            }
            return isFinal(last) ? last : null;
        }
    }

    @Override
    public void close() {
        producer.close();
    }

    private List<TopicPartition> partitionsOf(KafkaConsumer<?, ?> consumer, String topic) {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, connectTimeout).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            if (partitions.isEmpty()) {
                throw new KafkaUnreachableException("topic " + topic + " does not exist at "
                        + common.get(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG));
            }
            return partitions;
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw new KafkaUnreachableException("Kafka at " + common.get(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG)
                    + " did not answer within " + connectTimeout.toSeconds() + " s");
        }
    }

    /** The broker could not be reached in time, or lacks the service topics. */
    public static final class KafkaUnreachableException extends RuntimeException {
        public KafkaUnreachableException(String message) {
            super(message);
        }
    }

    private static boolean isFinal(AttributionEvent event) {
        return event instanceof AttributionEvent.Completed || event instanceof AttributionEvent.Failed;
    }

    /** One job's events from a consumer of its own, deduplicated on seq; closes the consumer at the end. */
    private final class JobEvents implements Iterator<AttributionEvent>, AutoCloseable {
        private final String jobId;
        private final Instant end;
        private final KafkaConsumer<String, byte[]> consumer;
        private final Set<Long> seen = new HashSet<>();
        private final Deque<AttributionEvent> ready = new ArrayDeque<>();
        private boolean finished;
        private boolean closed;

        JobEvents(String jobId, Duration timeout, boolean fromStart) {
            this.jobId = jobId;
            this.end = Instant.now().plus(timeout);
            Properties p = new Properties();
            p.putAll(common);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
            p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            consumer = new KafkaConsumer<>(p);
            try {
                List<TopicPartition> partitions = partitionsOf(consumer, Protocol.RESULTS_TOPIC);
                consumer.assign(partitions);
                if (fromStart) {
                    consumer.seekToBeginning(partitions);
                } else {
                    consumer.seekToEnd(partitions);
                    partitions.forEach(consumer::position); // resolve "end" now, before the request is sent
                }
            } catch (RuntimeException e) {
                consumer.close();
                throw e;
            }
        }

        @Override
        public boolean hasNext() {
            while (ready.isEmpty() && !finished && Instant.now().isBefore(end)) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (finished || !jobId.equals(r.key())) {
                        continue; // events are keyed by job id
                    }
                    AttributionEvent event = Protocol.decodeEvent(r.value());
                    if (seen.add(event.seq())) {
                        ready.add(event);
                        finished = isFinal(event);
                    }
                }
            }
            if (ready.isEmpty()) {
                close();
            }
            return !ready.isEmpty();
        }

        @Override
        public AttributionEvent next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.remove();
        }

        @Override
        public void close() {
            finished = true;
            if (!closed) {
                closed = true;
                consumer.close();
            }
        }
    }
}
