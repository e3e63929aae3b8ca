package org.llmattrib.protocol;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
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
     * Submits a request and feeds {@code onEvent} its events (earlier, failed runs of the same job id
     * are not replayed); returns the final event, or null after {@code timeout}. The same request
     * again while its job runs or after it completed is not sent (the workers would do nothing with
     * it): its run's events are replayed from the results topic instead, then followed.
     */
    public AttributionEvent submitAndFollow(String jobId, byte[] json, Duration timeout,
            Consumer<AttributionEvent> onEvent) {
        return submitAndFollow(jobId, json, timeout, known -> { }, onEvent);
    }

    /**
     * {@link #submitAndFollow(String, byte[], Duration, Consumer)}, telling {@code onResubmission} the
     * job's recorded status (running or completed, with its worker) before replaying it when the
     * request was not sent because the same request owns the job id already.
     *
     * @throws IllegalStateException when the job completed but its events are no longer on the results
     *     topic (past its retention)
     */
    public AttributionEvent submitAndFollow(String jobId, byte[] json, Duration timeout,
            Consumer<JobStatus> onResubmission, Consumer<AttributionEvent> onEvent) {
        // the results topic's end first: a run that starts after the job's status was read is followed from there
        try (JobEvents events = new JobEvents(jobId, timeout, false)) {
            JobStatus known = sameRequestRunningOrCompleted(jobId, json);
            if (known == null) {
                submitRaw(jobId, json).join();
            } else {
                onResubmission.accept(known);
                events.replayLatestRun();
            }
            AttributionEvent last = null;
            while (events.hasNext()) {
                last = events.next();
                onEvent.accept(last);
            }
            if (known != null && known.state() == JobStatus.State.COMPLETED && !isFinal(last)) {
                throw new IllegalStateException("job " + jobId + " completed (worker " + known.worker()
                        + "), but its events are no longer on " + Protocol.RESULTS_TOPIC
                        + " (past its retention?): submit the request under another job id");
            }
            return isFinal(last) ? last : null;
        }
    }

    /**
     * The job's status as the workers recorded it on {@code attribution.jobs} when this very request
     * (same {@link JobStatus#requestHash}) runs or completed under {@code jobId}; null otherwise: the
     * id is new, its job failed (the id may be reused), another request owns it (the workers refuse
     * this one with {@code duplicate_job_id}) or the request is invalid (they say why).
     */
    private JobStatus sameRequestRunningOrCompleted(String jobId, byte[] json) {
        String hash;
        try {
            hash = JobStatus.requestHash(Protocol.decodeRequest(json));
        } catch (ProtocolException e) {
            return null;
        }
        JobStatus status = recordedStatus(jobId);
        return status != null && status.state() != JobStatus.State.FAILED && hash.equals(status.requestHash())
                ? status : null;
    }

    /** The status of {@code jobId} folded from the compacted jobs topic as the workers fold it; null without one (or without the topic). */
    private JobStatus recordedStatus(String jobId) {
        try (KafkaConsumer<String, byte[]> consumer = consumer()) {
            List<TopicPartition> partitions = partitions(consumer, Protocol.JOBS_TOPIC);
            consumer.assign(partitions);
            JobStatus[] status = new JobStatus[1];
            readUpTo(consumer, consumer.endOffsets(partitions, connectTimeout), Instant.now().plus(connectTimeout), r -> {
                if (jobId.equals(r.key())) {
                    try {
                        status[0] = r.value() == null ? null : JobStatus.fold(status[0], Protocol.decodeJobStatus(r.value()));
                    } catch (ProtocolException e) {
                        // not a status the workers wrote: they ignore it too
                    }
                }
            });
            return status[0];
        }
    }

    /**
     * From the beginning of the consumer's partitions, hands over each record until every partition
     * has been read up to {@code end} (records past it that come in the same polls too), or until
     * {@code deadline}.
     */
    private static void readUpTo(KafkaConsumer<String, byte[]> consumer, Map<TopicPartition, Long> end,
            Instant deadline, Consumer<ConsumerRecord<String, byte[]>> each) {
        consumer.seekToBeginning(end.keySet());
        while (Instant.now().isBefore(deadline)
                && end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
            consumer.poll(Duration.ofMillis(100)).forEach(each);
        }
    }

    @Override
    public void close() {
        producer.close();
    }

    /** A consumer outside any consumer group, with the common settings. */
    private KafkaConsumer<String, byte[]> consumer() {
        Properties p = new Properties();
        p.putAll(common);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    private List<TopicPartition> resultPartitions(KafkaConsumer<?, ?> consumer) {
        List<TopicPartition> partitions = partitions(consumer, Protocol.RESULTS_TOPIC);
        if (partitions.isEmpty()) {
            throw new KafkaUnreachableException("topic " + Protocol.RESULTS_TOPIC + " does not exist at "
                    + common.get(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG));
        }
        return partitions;
    }

    /** The topic's partitions, none when it does not exist. */
    private List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        try {
            return consumer.partitionsFor(topic, connectTimeout).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
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

    /** A failed event that refuses another request with the job's id: no part of the job's own runs. */
    private static boolean refusesAnotherRequest(AttributionEvent event) {
        return event instanceof AttributionEvent.Failed f && f.errorCode().equals(Optional.of(ErrorCode.DUPLICATE_JOB_ID));
    }

    /** One job's events from a consumer of its own, deduplicated on seq; closes the consumer at the end. */
    private final class JobEvents implements Iterator<AttributionEvent>, AutoCloseable {
        private final String jobId;
        private final Instant end;
        private final KafkaConsumer<String, byte[]> consumer;
        private final Map<TopicPartition, Long> endAtStart;
        private final Set<Long> seen = new HashSet<>();
        private final Deque<AttributionEvent> ready = new ArrayDeque<>();
        private boolean replaying;
        private boolean finished;
        private boolean closed;

        /** @param fromStart from the beginning of the topic, else from its end now */
        JobEvents(String jobId, Duration timeout, boolean fromStart) {
            this.jobId = jobId;
            this.end = Instant.now().plus(timeout);
            consumer = consumer();
            try {
                List<TopicPartition> partitions = resultPartitions(consumer);
                consumer.assign(partitions);
                endAtStart = consumer.endOffsets(partitions, connectTimeout);
                if (fromStart) {
                    consumer.seekToBeginning(partitions);
                } else {
                    endAtStart.forEach(consumer::seek);
                }
            } catch (RuntimeException e) {
                consumer.close();
                throw e;
            }
        }

        /**
         * Instead of the events from the end at start: the job's latest run as the topic held it then
         * (its events after the last failed one: a failed job id may be reused), and what follows.
         * Refusals of other requests with this job id are left out.
         */
        void replayLatestRun() {
            replaying = true;
            List<AttributionEvent> history = new ArrayList<>();
            List<AttributionEvent> since = new ArrayList<>();
            readUpTo(consumer, endAtStart, end, r -> {
                if (jobId.equals(r.key())) {
                    AttributionEvent event = Protocol.decodeEvent(r.value());
                    boolean past = r.offset() < endAtStart.get(new TopicPartition(r.topic(), r.partition()));
                    if (!refusesAnotherRequest(event)) {
                        (past ? history : since).add(event);
                    }
                }
            });
            int runStart = 0;
            for (int i = 0; i < history.size(); i++) {
                if (history.get(i) instanceof AttributionEvent.Failed) {
                    runStart = i + 1;
                }
            }
            history.subList(runStart, history.size()).forEach(this::offer);
            since.forEach(this::offer);
        }

        private void offer(AttributionEvent event) {
            if (!finished && !(replaying && refusesAnotherRequest(event)) && seen.add(event.seq())) {
                ready.add(event);
                finished = isFinal(event);
            }
        }

        @Override
        public boolean hasNext() {
            while (ready.isEmpty() && !finished && Instant.now().isBefore(end)) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (jobId.equals(r.key())) { // events are keyed by job id
                        offer(Protocol.decodeEvent(r.value()));
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
