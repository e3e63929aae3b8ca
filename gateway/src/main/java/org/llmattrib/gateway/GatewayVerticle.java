package org.llmattrib.gateway;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.AllowForwardHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.llmattrib.protocol.AttributionClient.KafkaUnreachableException;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.llmattrib.protocol.TopicFollower;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's HTTP server and its job view. Results arrive from the consumer thread through
 * {@code context.runOnContext}, so the job store is only ever touched on this verticle's event loop.
 */
final class GatewayVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayVerticle.class);
    private final GatewayConfig config;
    private final PrometheusMeterRegistry registry;
    private final RequestSender sender;
    private final List<Examples.Example> examples = Examples.seeds();
    private final Buffer openApi = Resources.buffer("/openapi.json");
    private JobStore store;
    private TopicFollower follower;
    /** {@code attribution.jobs}: which request owns a job id. */
    private TopicFollower owners;
    private HttpServer server;
    /** The results and job topics have been read up to the end offsets they had at start. */
    private volatile boolean caughtUp;
    private volatile boolean ownersCaughtUp;

    GatewayVerticle(GatewayConfig config, PrometheusMeterRegistry registry, RequestSender sender) {
        this.config = config;
        this.registry = registry;
        this.sender = sender;
    }

    @Override
    public Future<?> start() {
        GatewayMetrics metrics = new GatewayMetrics(registry, () -> store.size(), () -> ready() ? 1 : 0);
        store = new JobStore(config.maxJobs(), config.events(), metrics);
        JobsApi api = new JobsApi(store, sender, metrics, this::ready);
        follower = new TopicFollower(config.kafkaProperties(), Protocol.RESULTS_TOPIC, records -> {
            List<Runnable> adds = new ArrayList<>(records.size());
            for (ConsumerRecord<String, byte[]> r : records) {
                try {
                    StoredEvent event = StoredEvent.decode(r.value());
                    adds.add(() -> store.add(event.event().jobId(), Instant.ofEpochMilli(r.timestamp()), event));
                } catch (ProtocolException e) {
                    metrics.undecodable();
                    LOG.warn("skipping a record at {}-{}@{} that is not an attribution event: {}", r.topic(),
                            r.partition(), r.offset(), e.getMessage());
                }
            }
            context.runOnContext(v -> adds.forEach(Runnable::run));
        });
        follower.start(Instant.EPOCH).thenRun(() -> context.runOnContext(v -> caughtUp = true));
        owners = new TopicFollower(config.kafkaProperties(), Protocol.JOBS_TOPIC, records -> {
            List<JobStatus> statuses = new ArrayList<>(records.size());
            for (ConsumerRecord<String, byte[]> r : records) {
                try {
                    statuses.add(Protocol.decodeJobStatus(r.value()));
                } catch (ProtocolException e) {
                    LOG.warn("skipping a record at {}-{}@{} that is not a job status: {}", r.topic(), r.partition(),
                            r.offset(), e.getMessage());
                }
            }
            context.runOnContext(v -> statuses.forEach(store::owner));
        });
        owners.start(Instant.EPOCH).thenRun(() -> context.runOnContext(v -> ownersCaughtUp = true));
        return ConnectionGuard.listen(vertx, config.connections(), ConnectionGuard.WhenFull.REFUSE_NEWEST,
                        router(api, metrics), config.host(), config.port())
                .onSuccess(s -> server = s);
    }

    private Router router(JobsApi api, GatewayMetrics metrics) {
        Router router = Router.router(vertx);
        // behind a proxy the gateway's own origin is the one the proxy says it forwarded
        router.allowForward(AllowForwardHeaders.ALL);
        SecurityHeaders.install(router);
        new CrossSiteGuard(config.corsOrigin()).install(router);
        router.get("/health/live").handler(ctx -> ctx.response().end("ok\n"));
        router.get("/health/ready").handler(ctx -> ctx.response().setStatusCode(ready() ? 200 : 503)
                .end(ready() ? "ready\n" : !follower.answered().isDone() ? "no answer yet from Kafka at "
                        + config.bootstrap() + "\n" : follower.alive() ? "reading the results topic\n"
                        : "stopped reading the results topic: see the log\n"));
        router.get("/metrics").handler(ctx -> ctx.response()
                .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8").end(registry.scrape()));
        router.get("/openapi.json").handler(ctx -> ctx.response().putHeader("content-type", "application/json")
                .end(openApi));

        router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()));
        if (config.token() != null) {
            router.route("/v1/*").handler(BearerToken.handler(config.token()));
        }
        router.route("/v1/*").failureHandler(ctx -> {
            int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            if (status == 401) {
                ctx.response().putHeader("www-authenticate", "Bearer");
            }
            Responses.error(ctx, status, switch (status) {
                case 401 -> "unauthorized";
                case 403 -> "cross_site_request"; // CORS refused the origin
                case 413 -> "payload_too_large";
                default -> "internal";
            }, switch (status) {
                case 403 -> "Origin " + ctx.request().getHeader("Origin") + " is not --cors-origin "
                        + config.corsOrigin();
                case 413 -> "the request body is larger than " + config.maxBodyBytes() + " bytes";
                default -> "HTTP " + status;
            }, null);
        });
        router.get("/v1/jobs").handler(api::list);
        router.post("/v1/jobs").handler(api::submit);
        router.get("/v1/jobs/:id").handler(api::get);
        router.delete("/v1/jobs/:id").handler(api::cancel);
        router.get("/v1/jobs/:id/events").handler(new EventStream(api, metrics, config.connections().idleTimeout())::handle);
        router.get("/v1/examples").handler(ctx -> Responses.json(ctx, 200, examples));

        // the dashboard: one page, deep links to /jobs/{id} serve the same page
        router.get("/jobs/:id").handler(ctx -> ctx.reroute("/index.html"));
        router.get("/*").handler(StaticHandler.create("dashboard"));
        return router;
    }

    /**
     * Waits until a broker has answered about the results topic (it may not exist yet).
     *
     * @throws KafkaUnreachableException naming the bootstrap address when none has within {@code timeout}
     */
    void awaitKafka(Duration timeout) {
        try {
            follower.answered().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new KafkaUnreachableException("Kafka at " + config.bootstrap() + " did not answer within "
                    + timeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read " + Protocol.RESULTS_TOPIC + " from Kafka at "
                    + config.bootstrap() + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for Kafka at " + config.bootstrap(), e);
        }
    }

    /** Caught up with the results and job topics and still following them: the job view is current. */
    boolean ready() {
        return caughtUp && ownersCaughtUp && follower.alive() && owners.alive();
    }

    int actualPort() {
        return server.actualPort();
    }

    @Override
    public Future<?> stop() {
        return vertx.executeBlocking(() -> {
            follower.close();
            owners.close();
            return null;
        });
    }
}
