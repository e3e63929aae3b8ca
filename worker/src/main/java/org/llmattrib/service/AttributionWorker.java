package org.llmattrib.service;

import ai.djl.ndarray.types.DataType;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.ResultStore;
import org.llmattrib.llama.Llama;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: the Llama model resident, a member of the request share group (or consumer group, by {@link QueueMode}), results streamed
 * per target token. Start order matters: metrics/health first (so probes answer), then the model
 * (on a Vert.x worker thread, never the event loop), then the consumer; ready only after both.
 */
public final class AttributionWorker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AttributionWorker.class);

    /**
     * @param consumerOverrides properties for the consumer-group consumer ({@link QueueMode#GROUP})
     * @param maxAttempts runs of one request before it is given up as {@code too_many_attempts}; in
     *     share mode keep it below the group's {@code share.delivery.count.limit}
     */
    public record Settings(String bootstrap, Path model, String device, String group, String instanceId,
            int metricsPort, Path resultStore, int maxPromptTokens, Map<String, Object> consumerOverrides,
            QueueMode queue, int maxAttempts) {}

    /** The seq of the {@code failed} event of a given-up job: after anything its earlier runs published. */
    static final long GIVE_UP_SEQ = Integer.MAX_VALUE;
    static final String TOO_MANY_ATTEMPTS = "too_many_attempts";

    private final Vertx vertx;
    private final PrometheusMeterRegistry registry;
    private final WorkerMetrics metrics;
    private final HealthVerticle health;
    private final String workerId;
    private volatile Llama llama;
    private KafkaProducer<String, byte[]> producer;
    private CancelListener cancels;
    private JobConsumer consumer;
    private ShareJobConsumer shareConsumer;
    private QueueBacklog backlog;
    private AttemptCounter attempts;
    private int maxAttempts;
    private JobRunner runner;

    private AttributionWorker(Settings s) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        vertx = Vertx.builder()
                .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
                        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))))
                .withMetrics(new MicrometerMetricsFactory(registry))
                .build();
        metrics = new WorkerMetrics(registry);
        health = new HealthVerticle(s.metricsPort(), registry, () -> llama != null && metrics.consumerReady());
        workerId = s.instanceId() != null ? s.instanceId() : ManagementFactory.getRuntimeMXBean().getName();
    }

    /** Starts a worker and returns once it is ready (model loaded, consumer subscribed). */
    public static AttributionWorker start(Settings s) {
        AttributionWorker w = new AttributionWorker(s);
        try {
            await(w.vertx.deployVerticle(w.health).toCompletionStage().toCompletableFuture());
            LOG.info("metrics and health on port {}; loading {}", w.health.actualPort(), s.model());
            w.llama = await(w.vertx.executeBlocking(() -> Llama.load(s.model(), s.device(), DataType.FLOAT32))
                    .toCompletionStage().toCompletableFuture());
            w.connect(s);
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private void connect(Settings s) {
        AttributionEngine engine = new AttributionEngine(llama, s.resultStore() == null ? null
                : new ResultStore(s.resultStore()));
        runner = new JobRunner(engine, new RequestPlanner(llama, s.maxPromptTokens()), workerId);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
        cancels = new CancelListener(s.bootstrap()).start();
        maxAttempts = s.maxAttempts();
        if (s.queue() == QueueMode.SHARE) {
            attempts = AttemptCounter.DELIVERY_COUNT;
            shareConsumer = new ShareJobConsumer(s.bootstrap(), s.group(), Protocol.REQUESTS_TOPIC, this::handle, metrics);
            shareConsumer.start();
            backlog = new QueueBacklog(vertx, s.bootstrap(), s.group(), Protocol.REQUESTS_TOPIC, registry, 15_000);
        } else {
            attempts = new AttemptLog(s.bootstrap(), producer);
            consumer = new JobConsumer(s.bootstrap(), s.group(), s.instanceId(), Protocol.REQUESTS_TOPIC,
                    (record, abandoned) -> handle(record, abandoned).done(), metrics, s.consumerOverrides());
            consumer.start();
        }
        long until = System.currentTimeMillis() + 60_000;
        while (!metrics.consumerReady() && System.currentTimeMillis() < until) {
            sleep(20);
        }
    }

    /** Runs one request record; done when its last event is acknowledged. */
    private Settlement handle(ConsumerRecord<String, byte[]> record, AtomicBoolean abandoned) {
        int attempt = attempts.started(record);
        if (attempt > maxAttempts) {
            return giveUp(record, attempt);
        }
        long start = System.nanoTime();
        double queueMs = Math.max(0, System.currentTimeMillis() - record.timestamp());
        Future<RecordMetadata>[] last = new Future[1];
        JobRunner.Outcome outcome;
        try {
            outcome = runner.run(record.value(), Map.of("queue_ms", queueMs),
                    () -> cancels.isCancelled(record.key()), abandoned::get, event -> last[0] = publish(event));
        } catch (ProtocolException e) {
            deadLetter(record, e);
            if (e.jobId() != null) {
                last[0] = publish(JobRunner.undecodable(e));
            }
            outcome = new JobRunner.Outcome("failed", e.code(), 0);
        }
        metrics.job(outcome.status(), outcome.code(), Duration.ofNanos(System.nanoTime() - start), outcome.targetTokens());
        if (outcome.status().equals("abandoned")) {
            return Settlement.RETRY;
        }
        return settled(record, last[0], outcome.status().equals("completed") ? Settlement.COMPLETED : Settlement.FAILED);
    }

    /** Flushes the events; once the final one is acknowledged the record is done, else it runs again. */
    private Settlement settled(ConsumerRecord<String, byte[]> record, Future<RecordMetadata> last, Settlement settlement) {
        producer.flush();
        try {
            if (last != null) {
                last.get();
            }
            attempts.finished(record);
            return settlement;
        } catch (Exception e) {
            LOG.error("the final event of {} was not acknowledged; the request will run again", record.key(), e);
            return Settlement.RETRY;
        }
    }

    /**
     * A request delivered more often than allowed (its runs killed or stalled their workers, or
     * were interrupted): a {@code failed} event with code {@code too_many_attempts} and a DLQ copy,
     * and never run again.
     */
    private Settlement giveUp(ConsumerRecord<String, byte[]> record, int attempt) {
        String jobId = jobIdOf(record);
        String message = "attempt " + attempt + " of a request allowed " + maxAttempts
                + " attempts: its earlier runs killed, stalled or lost their workers";
        LOG.warn("giving up {}/{}@{} (job {}): {}", record.topic(), record.partition(), record.offset(), jobId, message);
        deadLetter(record, new ProtocolException(TOO_MANY_ATTEMPTS, null, jobId, message));
        metrics.job("failed", TOO_MANY_ATTEMPTS, Duration.ZERO, 0);
        Future<RecordMetadata> failed = jobId == null ? null : publish(new AttributionEvent.Failed(AttributionEvent.SCHEMA,
                jobId, GIVE_UP_SEQ, TOO_MANY_ATTEMPTS, message, null));
        return settled(record, failed, Settlement.FAILED);
    }

    private static String jobIdOf(ConsumerRecord<String, byte[]> record) {
        try {
            return Protocol.decodeRequest(record.value()).jobId();
        } catch (ProtocolException e) {
            return e.jobId();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private Future<RecordMetadata> publish(AttributionEvent event) {
        return producer.send(new ProducerRecord<>(Protocol.RESULTS_TOPIC, event.jobId(), Protocol.encode(event)));
    }

    private void deadLetter(ConsumerRecord<String, byte[]> record, ProtocolException e) {
        ProducerRecord<String, byte[]> dead = new ProducerRecord<>(Protocol.DEAD_LETTER_TOPIC, record.key(), record.value());
        dead.headers().add("error.code", e.code().getBytes(StandardCharsets.UTF_8));
        dead.headers().add("error.message", e.getMessage().getBytes(StandardCharsets.UTF_8));
        if (e.field() != null) {
            dead.headers().add("error.field", e.field().getBytes(StandardCharsets.UTF_8));
        }
        dead.headers().add("source", (record.topic() + "/" + record.partition() + "@" + record.offset())
                .getBytes(StandardCharsets.UTF_8));
        producer.send(dead);
        LOG.warn("dead-lettered {}/{}@{}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
    }

    public String workerId() {
        return workerId;
    }

    public int metricsPort() {
        return health.actualPort();
    }

    public Llama llama() {
        return llama;
    }

    /** Stops consuming (the running job is abandoned, not committed), leaves the group, releases the model. */
    @Override
    public void close() {
        if (consumer != null) {
            consumer.close();
        }
        if (shareConsumer != null) {
            shareConsumer.close();
        }
        if (backlog != null) {
            backlog.close();
        }
        if (attempts instanceof AttemptLog log) {
            log.close();
        }
        if (cancels != null) {
            cancels.close();
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(10));
        }
        await(vertx.close().toCompletionStage().toCompletableFuture());
        if (llama != null) {
            llama.close();
        }
    }

    private static <T> T await(java.util.concurrent.CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
