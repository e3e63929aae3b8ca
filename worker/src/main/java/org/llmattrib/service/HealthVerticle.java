package org.llmattrib.service;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.util.function.BooleanSupplier;
import org.llmattrib.gateway.ConnectionGuard;
import org.llmattrib.gateway.ConnectionLimits;

/**
 * Prometheus metrics and liveness/readiness on one HTTP port; nothing here blocks the event loop.
 * Live: the worker's Kafka loops are running (503 once one has died: restart the worker). Ready:
 * live, model loaded, and a member of the consumer group taking jobs. A scraper and a probe or two
 * are its clients: it holds at most {@link #LIMITS} connections, idle or slow ones for a short time,
 * and a new connection closes the oldest, so that clients holding connections cannot starve a probe.
 */
public final class HealthVerticle extends VerticleBase {
    static final ConnectionLimits LIMITS = ConnectionLimits.DEFAULT.withMaxConnections(32);

    private final String host;
    private final int port;
    private final PrometheusMeterRegistry registry;
    private final BooleanSupplier live;
    private final BooleanSupplier ready;
    private HttpServer server;

    public HealthVerticle(String host, int port, PrometheusMeterRegistry registry, BooleanSupplier live,
            BooleanSupplier ready) {
        this.host = host;
        this.port = port;
        this.registry = registry;
        this.live = live;
        this.ready = ready;
    }

    @Override
    public Future<?> start() {
        Router router = Router.router(vertx);
        router.get("/health/live").handler(ctx -> {
            boolean isLive = live.getAsBoolean();
            ctx.response().setStatusCode(isLive ? 200 : 503).end(isLive ? "ok\n" : "a Kafka loop died\n");
        });
        router.get("/health/ready").handler(ctx -> {
            boolean isReady = ready.getAsBoolean();
            ctx.response().setStatusCode(isReady ? 200 : 503).end(isReady ? "ready\n" : "not ready\n");
        });
        router.get("/metrics").handler(ctx -> ctx.response()
                .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .end(registry.scrape()));
        return ConnectionGuard.listen(vertx, LIMITS, ConnectionGuard.WhenFull.CLOSE_OLDEST, router, host, port).onSuccess(s -> server = s);
    }

    /** The port actually bound (useful when started on port 0). */
    public int actualPort() {
        return server.actualPort();
    }
}
