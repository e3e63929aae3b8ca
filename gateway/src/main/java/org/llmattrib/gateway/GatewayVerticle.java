package org.llmattrib.gateway;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * The gateway's HTTP server and its job view. Results arrive from the consumer thread through
 * {@code context.runOnContext}, so the job store is only ever touched on this verticle's event loop.
 */
final class GatewayVerticle extends VerticleBase {
    private final GatewayConfig config;
    private final PrometheusMeterRegistry registry;
    private final RequestSender sender;
    private final List<Examples.Example> examples = Examples.seeds();
    private final Buffer openApi = Resources.buffer("/openapi.json");
    private JobStore store;
    private ResultsFollower follower;
    private HttpServer server;
    private volatile boolean ready;

    GatewayVerticle(GatewayConfig config, PrometheusMeterRegistry registry, RequestSender sender) {
        this.config = config;
        this.registry = registry;
        this.sender = sender;
    }

    @Override
    public Future<?> start() {
        GatewayMetrics metrics = new GatewayMetrics(registry, () -> store.size(), () -> ready ? 1 : 0);
        store = new JobStore(config.maxJobs(), metrics);
        JobsApi api = new JobsApi(store, sender, metrics, () -> ready);
        follower = new ResultsFollower(config.bootstrap(), config.kafka(), metrics,
                batch -> context.runOnContext(v -> batch.forEach(r ->
                        store.add(r.jobId(), Instant.ofEpochMilli(r.timestamp()), r.event()))),
                () -> context.runOnContext(v -> ready = true));
        return vertx.createHttpServer().requestHandler(router(api, metrics)).listen(config.port(), config.host())
                .onSuccess(s -> server = s);
    }

    private Router router(JobsApi api, GatewayMetrics metrics) {
        Router router = Router.router(vertx);
        if (config.corsOrigin() != null) {
            router.route().handler(CorsHandler.create().addOrigin(config.corsOrigin())
                    .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE))
                    .allowedHeaders(Set.of("Authorization", "Content-Type", "Last-Event-ID")));
        }
        router.get("/health/live").handler(ctx -> ctx.response().end("ok\n"));
        router.get("/health/ready").handler(ctx -> ctx.response().setStatusCode(ready ? 200 : 503)
                .end(ready ? "ready\n" : "reading the results topic\n"));
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
                case 413 -> "payload_too_large";
                default -> "internal";
            }, status == 413 ? "the request body is larger than " + config.maxBodyBytes() + " bytes"
                    : "HTTP " + status, null);
        });
        router.get("/v1/jobs").handler(api::list);
        router.post("/v1/jobs").handler(api::submit);
        router.get("/v1/jobs/:id").handler(api::get);
        router.delete("/v1/jobs/:id").handler(api::cancel);
        router.get("/v1/jobs/:id/events").handler(new EventStream(api, metrics)::handle);
        router.get("/v1/examples").handler(ctx -> Responses.json(ctx, 200, examples));

        // the dashboard: one page, deep links to /jobs/{id} serve the same page
        router.get("/jobs/:id").handler(ctx -> ctx.reroute("/index.html"));
        router.get("/*").handler(StaticHandler.create("dashboard"));
        return router;
    }

    boolean ready() {
        return ready;
    }

    int actualPort() {
        return server.actualPort();
    }

    @Override
    public Future<?> stop() {
        return vertx.executeBlocking(() -> {
            follower.close();
            return null;
        });
    }
}
