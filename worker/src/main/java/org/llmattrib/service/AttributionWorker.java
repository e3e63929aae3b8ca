package org.llmattrib.service;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.ResultStore;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Libtorch;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.CloudEvents;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: the Llama model resident, a member of the request share group (or consumer group, by
 * {@link QueueMode}), results streamed per target token. Start order matters: metrics/health first
 * (so probes answer), then a check that Kafka answers (so a wrong address fails in seconds, not
 * after the model load), then the model (on a Vert.x worker thread, never the event loop), then the
 * consumers; ready only after all of them.
 */
public final class AttributionWorker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AttributionWorker.class);

    /**
     * @param kafka extra Kafka client properties for every client (security, say; {@code --kafka-config})
     * @param dtype the type of the model's weights and matmuls ({@code --dtype})
     * @param bindAddress the interface /metrics and /health/* listen on
     * @param connectTimeout how long Kafka may take to answer at start-up
     * @param limits what a request may ask, checked before any work
     * @param drainTimeout on close, how long the running jobs may take to finish before each is abandoned
     * @param stallTimeout a job that shows no sign of life (no checkpoint between model steps) for
     *     longer is given back to the queue and the worker stops being live ({@code --stall-timeout})
     * @param consumerOverrides properties for the consumer-group consumer ({@link QueueMode#GROUP}; session timeout, say)
     * @param queue a share group or a consumer group
     * @param maxAttempts runs of one request before it is given up as {@code too_many_attempts}; in
     *     share mode keep it below the group's {@code share.delivery.count.limit}
     * @param concurrency jobs run at once (share mode only: a consumer group runs a partition's
     *     records in offset order, one at a time)
     */
    public record Settings(String bootstrap, Properties kafka, Path model, String device, Precision dtype, String group,
            String instanceId, String bindAddress, int metricsPort, Path resultStore, Limits limits,
            Duration connectTimeout, Duration drainTimeout, Duration stallTimeout, Map<String, Object> consumerOverrides,
            QueueMode queue, int maxAttempts, int concurrency) {
        public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);
        public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
        /**
         * Above the longest model step the default limits allow: the largest CPU job (--max-job-flops
         * 1e14) runs about 17 minutes in all, and a step is a small part of a job.
         */
        public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofMinutes(30);

        public Settings {
            if (concurrency < 1) {
                throw new IllegalArgumentException("--concurrency must be at least 1, not " + concurrency);
            }
            if (concurrency > 1 && queue == QueueMode.GROUP) {
                throw new IllegalArgumentException("--concurrency " + concurrency + " needs --queue share: a consumer"
                        + " group commits each partition's offsets in order, so its worker runs one job at a time");
            }
        }

        /** No extra client properties, health on 127.0.0.1, default timeouts, one job at a time (tests, the demo, benchmarks). */
        public Settings(String bootstrap, Path model, String device, String group, String instanceId, int metricsPort,
                Path resultStore, Limits limits, Map<String, Object> consumerOverrides, QueueMode queue, int maxAttempts) {
            this(bootstrap, new Properties(), model, device, Precision.FLOAT32, group, instanceId, "127.0.0.1",
                    metricsPort, resultStore, limits, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DRAIN_TIMEOUT,
                    DEFAULT_STALL_TIMEOUT, consumerOverrides, queue, maxAttempts, 1);
        }

        /** These settings with the model in {@code type}. */
        public Settings withDtype(Precision type) {
            return new Settings(bootstrap, kafka, model, device, type, group, instanceId, bindAddress, metricsPort,
                    resultStore, limits, connectTimeout, drainTimeout, stallTimeout, consumerOverrides, queue, maxAttempts,
                    concurrency);
        }

        /** These settings with {@code n} jobs at once. */
        public Settings withConcurrency(int n) {
            return new Settings(bootstrap, kafka, model, device, dtype, group, instanceId, bindAddress, metricsPort,
                    resultStore, limits, connectTimeout, drainTimeout, stallTimeout, consumerOverrides, queue, maxAttempts, n);
        }


        /** The properties every Kafka client of the worker starts from. */
        Properties clientProperties() {
            Properties p = new Properties();
            p.putAll(kafka);
            p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            return p;
        }
    }

    /** The seq of the {@code failed} event of a given-up job: after anything its earlier runs published. */
    static final long GIVE_UP_SEQ = Integer.MAX_VALUE;
    /** How often readiness asks whether Kafka answers, and for how long it may not before the worker is not ready. */
    static final Duration BROKER_PERIOD = Duration.ofSeconds(2);
    static final Duration BROKER_GRACE = Duration.ofSeconds(6);

    private final Vertx vertx;
    private final PrometheusMeterRegistry registry;
    private final WorkerMetrics metrics;
    private final HealthVerticle health;
    private final String workerId;
    private final String eventSource;
    private volatile Llama llama;
    private boolean ownsModel;
    private KafkaProducer<String, byte[]> producer;
    private volatile CancelListener cancels;
    private volatile JobRegistry jobs;
    private volatile JobQueue queue;
    private QueueBacklog backlog;
    private volatile BrokerWatch brokers;
    private AttemptCounter attempts;
    private int maxAttempts;
    private JobRunner runner;
    private ForwardBatcher batcher;

    private AttributionWorker(Settings s) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        vertx = Vertx.builder()
                .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
                        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))))
                .withMetrics(new MicrometerMetricsFactory(registry))
                .build();
        metrics = new WorkerMetrics(registry);
        health = new HealthVerticle(s.bindAddress(), s.metricsPort(), registry, this::live, this::ready);
        workerId = s.instanceId() != null ? s.instanceId() : ManagementFactory.getRuntimeMXBean().getName();
        eventSource = CloudEvents.workerSource(workerId);
    }

    /** Starts a worker and returns once it is ready (model loaded, request consumer a member of its group). */
    public static AttributionWorker start(Settings s) {
        return start(s, () -> Llama.load(s.model(), s.device(), s.dtype().dataType()), true);
    }

    /**
     * Starts a worker on a model already resident (a benchmark's, which has no checkpoint
     * directory); closing the worker leaves the model open. {@code s.model()}, device and dtype are not read.
     */
    public static AttributionWorker start(Settings s, Llama resident) {
        return start(s, () -> resident, false);
    }

    private static AttributionWorker start(Settings s, java.util.concurrent.Callable<Llama> model, boolean owned) {
        AttributionWorker w = new AttributionWorker(s);
        try {
            await(w.vertx.deployVerticle(w.health).toCompletionStage().toCompletableFuture());
            checkKafka(s);
            LOG.info("metrics and health on {}:{}; loading {}", s.bindAddress(), w.health.actualPort(), s.model());
            w.llama = await(w.vertx.executeBlocking(model).toCompletionStage().toCompletableFuture());
            w.ownsModel = owned;
            w.connect(s);
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** Live: no Kafka loop of this worker has died (the process should then be restarted). */
    public boolean live() {
        return (queue == null || queue.alive()) && (cancels == null || cancels.alive())
                && (jobs == null || jobs.alive());
    }

    /**
     * Ready: live, the model loaded, the request consumer a member of its group taking jobs, and
     * Kafka answering ({@link BrokerWatch}: a worker whose broker is away cannot receive jobs; it
     * stays live, as restarting it would not help).
     */
    public boolean ready() {
        return live() && llama != null && queue != null && queue.ready() && brokers != null && brokers.reachable();
    }

    /**
     * Fails fast, with one clear message, when Kafka does not answer or lacks the service topics;
     * creates the compacted jobs topic (and in group mode the attempts topic) when it is missing.
     */
    private static void checkKafka(Settings s) {
        Properties p = s.clientProperties();
        int timeoutMs = (int) s.connectTimeout().toMillis();
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs);
        try (Admin admin = Admin.create(p)) {
            Set<String> topics = admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS);
            for (String compacted : s.queue() == QueueMode.GROUP ? List.of(Protocol.JOBS_TOPIC, AttemptLog.TOPIC)
                    : List.of(Protocol.JOBS_TOPIC)) {
                if (!topics.contains(compacted)) {
                    createCompacted(admin, compacted, timeoutMs);
                }
            }
            Set<String> missing = new TreeSet<>(List.of(Protocol.REQUESTS_TOPIC, Protocol.RESULTS_TOPIC,
                    Protocol.CONTROL_TOPIC, Protocol.DEAD_LETTER_TOPIC));
            missing.removeAll(topics);
            if (!missing.isEmpty()) {
                throw new IllegalStateException("Kafka at " + s.bootstrap() + " lacks the topics " + missing
                        + " (see deploy/k8s/topics.yaml)");
            }
        } catch (TimeoutException | ExecutionException e) {
            throw new IllegalStateException("Kafka at " + s.bootstrap() + " did not answer within "
                    + s.connectTimeout().toSeconds() + " s" + (e instanceof ExecutionException
                            && !(e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException)
                            ? ": " + e.getCause() : ""));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void createCompacted(Admin admin, String topic, int timeoutMs)
            throws InterruptedException, ExecutionException, TimeoutException {
        try {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty())
                    .configs(Map.of("cleanup.policy", "compact")))).all().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
            }
        }
    }

    private void connect(Settings s) {
        AttributionEngine engine = new AttributionEngine(llama, s.resultStore() == null ? null
                : new ResultStore(s.resultStore()));
        runner = new JobRunner(engine, new RequestPlanner(llama, s.limits()), workerId);
        if (llama.model().manager().getDevice().isGpu()) {
            LOG.info("float32 matrix products on the GPU: {}", Libtorch.tf32() ? "TF32 (" + Libtorch.TF32_ENV + ")"
                    : "float32");
        }
        LOG.info("warmed up in {} s", String.format("%.2f", runner.warmUp()));
        batcher = engine.batcher();
        metrics.forwards(batcher);
        Properties kafka = s.clientProperties();
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
        jobs = new JobRegistry(kafka, producer, workerId, s.connectTimeout()).start(s.connectTimeout());
        cancels = new CancelListener(kafka).start(s.connectTimeout());
        maxAttempts = s.maxAttempts();
        if (s.queue() == QueueMode.SHARE) {
            attempts = AttemptCounter.DELIVERY_COUNT;
            queue = new QueuePool(IntStream.range(0, s.concurrency()).mapToObj(i -> new ShareJobConsumer(kafka,
                    s.group(), Protocol.REQUESTS_TOPIC, this::handle, metrics, s.drainTimeout(), s.stallTimeout())).toList());
            backlog = new QueueBacklog(vertx, kafka, s.group(), Protocol.REQUESTS_TOPIC, registry, 15_000);
        } else {
            attempts = new AttemptLog(kafka, producer);
            queue = new JobConsumer(kafka, s.group(), s.instanceId(), Protocol.REQUESTS_TOPIC,
                    (record, signal) -> handle(record, signal).done(), metrics, s.consumerOverrides(),
                    s.drainTimeout(), s.stallTimeout());
        }
        queue.start();
        brokers = new BrokerWatch(vertx, kafka, BROKER_PERIOD, BROKER_GRACE);
        long until = System.currentTimeMillis() + 60_000;
        while (!queue.ready() && queue.alive() && System.currentTimeMillis() < until) {
            sleep(20);
        }
        if (!queue.alive()) {
            throw new IllegalStateException("the request consumer stopped at start-up (see the log)");
        }
    }

    /** Runs one request record; how its queue settles it once its answer is acknowledged (or not). */
    private Settlement handle(ConsumerRecord<String, byte[]> record, JobSignal signal) {
        long start = System.nanoTime();
        String source = record.topic() + "/" + record.partition() + "@" + record.offset();
        AttributionRequest request;
        try {
            request = Protocol.decodeRequest(record.value());
        } catch (ProtocolException e) {
            List<Future<RecordMetadata>> sent = new ArrayList<>(List.of(deadLetter(record, e)));
            if (e.jobId() != null) {
                sent.add(publish(JobRunner.undecodable(e)));
            }
            metrics.job(JobRunner.Status.FAILED, e.code(), Duration.ofNanos(System.nanoTime() - start), 0);
            return settled(sent, source, Settlement.FAILED);
        }
        String hash = JobStatus.requestHash(request);
        return switch (jobs.decide(request.jobId(), hash, source)) {
            case UNDECIDED -> Settlement.RETRY;
            case ANSWERED -> {
                LOG.info("{} ({}) is the same request as one running or done: nothing to do", request.jobId(), source);
                yield Settlement.COMPLETED;
            }
            case DUPLICATE -> {
                metrics.job(JobRunner.Status.FAILED, ErrorCode.DUPLICATE_JOB_ID, Duration.ofNanos(System.nanoTime() - start),
                        0);
                yield settled(List.of(publish(new AttributionEvent.Failed(request.jobId(), 0,
                        ErrorCode.DUPLICATE_JOB_ID, "job id " + request.jobId() + " belongs to a different request that is"
                                + " running or completed; choose a new job id", "job_id"))), source, Settlement.FAILED);
            }
            case RUN -> {
                int attempt = attempts.started(record);
                Settlement settlement = attempt > maxAttempts ? giveUp(request, hash, record, source, attempt)
                        : run(request, hash, record, source, signal, start);
                if (settlement.done()) {
                    attempts.finished(record);
                }
                yield settlement;
            }
        };
    }

    private Settlement run(AttributionRequest request, String hash, ConsumerRecord<String, byte[]> record,
            String source, JobSignal signal, long start) {
        String jobId = request.jobId();
        LOG.info("running {} ({})", jobId, source);
        double queueMs = Math.max(0, System.currentTimeMillis() - record.timestamp());
        AtomicReference<Future<RecordMetadata>> last = new AtomicReference<>();
        metrics.jobStarted();
        JobRunner.Outcome outcome;
        try {
            outcome = runner.run(request, record.value().length, Map.of("queue_ms", queueMs),
                    () -> cancels.isCancelled(jobId, record.timestamp()), signal::abandoned, event -> last.set(publish(event)));
        } finally {
            metrics.jobEnded();
        }
        metrics.job(outcome.status(), outcome.code(), Duration.ofNanos(System.nanoTime() - start), outcome.targetTokens());
        LOG.info("{} {}{}", jobId, outcome.status().tag(), outcome.code() == null ? "" : " (" + outcome.code() + ")");
        if (outcome.status() == JobRunner.Status.ABANDONED) {
            return Settlement.RETRY;
        }
        return ended(request, hash, source, List.of(last.get()),
                outcome.status() == JobRunner.Status.COMPLETED ? Settlement.COMPLETED : Settlement.FAILED);
    }

    /**
     * A request delivered more often than allowed (its runs killed or stalled their workers, or
     * were interrupted): a {@code failed} event with code {@code too_many_attempts} and a DLQ copy,
     * and never run again.
     */
    private Settlement giveUp(AttributionRequest request, String hash, ConsumerRecord<String, byte[]> record,
            String source, int attempt) {
        String message = "attempt " + attempt + " of a request allowed " + maxAttempts
                + " attempts: its earlier runs killed, stalled or lost their workers";
        LOG.warn("giving up {} (job {}): {}", source, request.jobId(), message);
        metrics.job(JobRunner.Status.FAILED, ErrorCode.TOO_MANY_ATTEMPTS, Duration.ZERO, 0);
        return ended(request, hash, source, List.of(
                deadLetter(record, new ProtocolException(ErrorCode.TOO_MANY_ATTEMPTS, null, request.jobId(), message)),
                publish(new AttributionEvent.Failed(request.jobId(), GIVE_UP_SEQ, ErrorCode.TOO_MANY_ATTEMPTS, message,
                        null))), Settlement.FAILED);
    }

    /** A job's answer is out: once acknowledged, the registry records how the job ended. */
    private Settlement ended(AttributionRequest request, String hash, String source, List<Future<RecordMetadata>> sent,
            Settlement settlement) {
        Settlement settled = settled(sent, source, settlement);
        if (settled.done()) {
            jobs.record(request.jobId(), hash, source, settlement == Settlement.COMPLETED
                    ? JobStatus.State.COMPLETED : JobStatus.State.FAILED);
        }
        return settled;
    }

    /** Waits for the records of one request: {@code settlement} once all are written, else RETRY (it runs again). */
    private Settlement settled(List<Future<RecordMetadata>> sent, String source, Settlement settlement) {
        producer.flush();
        try {
            for (Future<RecordMetadata> f : sent) {
                f.get();
            }
            return settlement;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Settlement.RETRY;
        } catch (ExecutionException e) {
            LOG.error("the answer to {} was not acknowledged; the request will run again", source, e.getCause());
            return Settlement.RETRY;
        }
    }

    private Future<RecordMetadata> publish(AttributionEvent event) {
        return producer.send(new ProducerRecord<>(Protocol.RESULTS_TOPIC, null, event.jobId(), Protocol.encode(event),
                CloudEvents.ofEvent(event, eventSource)));
    }

    private Future<RecordMetadata> deadLetter(ConsumerRecord<String, byte[]> record, ProtocolException e) {
        List<Header> headers = new ArrayList<>(CloudEvents.ofRejectedRequest(record.topic(), record.partition(),
                record.offset(), e.jobId(), eventSource));
        headers.add(header("error.code", e.code().wire()));
        headers.add(header("error.message", e.getMessage()));
        if (e.field() != null) {
            headers.add(header("error.field", e.field()));
        }
        headers.add(header("source", record.topic() + "/" + record.partition() + "@" + record.offset()));
        LOG.warn("dead-lettered {}/{}@{}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
        return producer.send(new ProducerRecord<>(Protocol.DEAD_LETTER_TOPIC, null, record.key(), record.value(), headers));
    }

    private static Header header(String key, String value) {
        return new RecordHeader(key, value.getBytes(StandardCharsets.UTF_8));
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

    /** How the running jobs' perturbation forwards were packed so far. */
    public ForwardBatcher.Packing packing() {
        return batcher.packing();
    }

    WorkerMetrics metrics() {
        return metrics;
    }

    /**
     * Stops taking jobs, lets the running jobs finish within the drain timeout (else abandons each,
     * unsettled, for another worker), leaves the group, releases the model.
     */
    @Override
    public void close() {
        if (queue != null) {
            queue.close();
        }
        if (backlog != null) {
            backlog.close();
        }
        if (brokers != null) {
            brokers.close();
        }
        if (attempts instanceof AttemptLog log) {
            log.close();
        }
        if (cancels != null) {
            cancels.close();
        }
        if (jobs != null) {
            jobs.close();
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(10));
        }
        await(vertx.close().toCompletionStage().toCompletableFuture());
        if (llama != null && ownsModel) {
            llama.close();
        }
    }

    private static <T> T await(java.util.concurrent.CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
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
