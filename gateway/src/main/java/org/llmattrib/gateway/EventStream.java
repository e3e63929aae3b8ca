package org.llmattrib.gateway;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;

/**
 * {@code GET /v1/jobs/{id}/events}: Server-Sent Events, one per protocol event ({@code id:} its seq,
 * {@code event:} its type, {@code data:} its JSON as published). Replays the job from the start, or
 * after {@code Last-Event-ID} (header, or query parameter {@code last_event_id}), then follows it
 * live, and ends after the terminal event.
 */
final class EventStream {
    private static final Duration KEEP_ALIVE = Duration.ofSeconds(15);

    private final JobsApi api;
    private final GatewayMetrics metrics;
    /** Often enough that the idle timeout never closes a stream. */
    private final long keepAliveMs;

    EventStream(JobsApi api, GatewayMetrics metrics, Duration idleTimeout) {
        this.api = api;
        this.metrics = metrics;
        this.keepAliveMs = Math.max(1, Math.min(KEEP_ALIVE.toMillis(), idleTimeout.toMillis() / 2));
    }

    void handle(RoutingContext ctx) {
        Long after = lastEventId(ctx);
        if (after == null) {
            Responses.error(ctx, 400, "invalid_request", "Last-Event-ID must be an event's seq", "Last-Event-ID");
            return;
        }
        Job job = api.find(ctx);
        if (job == null) {
            return;
        }
        HttpServerResponse response = ctx.response().setChunked(true)
                .putHeader("content-type", "text/event-stream; charset=utf-8")
                .putHeader("cache-control", "no-cache")
                .putHeader("x-accel-buffering", "no");
        for (StoredEvent event : job.eventsAfter(after)) {
            write(response, event);
            if (event.terminal()) {
                response.end();
                return;
            }
        }
        if (job.status().terminal()) {
            response.end();
            return;
        }
        if (!response.headWritten()) {
            response.writeHead(); // a client waiting for the first event knows the stream is open
        }
        new Follower(ctx.vertx(), job, response).start();
    }

    /** -1 (from the start) when absent, null when not a number. */
    private static Long lastEventId(RoutingContext ctx) {
        String value = ctx.request().getHeader("Last-Event-ID");
        if (value == null) {
            value = ctx.queryParams().get("last_event_id");
        }
        try {
            return value == null ? -1L : Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static void write(HttpServerResponse response, StoredEvent event) {
        StringBuilder b = new StringBuilder().append("id: ").append(event.seq()).append("\nevent: ")
                .append(event.type()).append('\n');
        for (String line : event.json().split("\n", -1)) {
            b.append("data: ").append(line).append('\n');
        }
        response.write(b.append('\n').toString());
    }

    /** One open stream of a running job, until its terminal event or the client leaves. */
    private final class Follower {
        private final Vertx vertx;
        private final Job job;
        private final HttpServerResponse response;
        private Runnable unfollow;
        private long keepAlive;
        private boolean closed;

        Follower(Vertx vertx, Job job, HttpServerResponse response) {
            this.vertx = vertx;
            this.job = job;
            this.response = response;
        }

        void start() {
            metrics.streamOpened();
            keepAlive = vertx.setPeriodic(keepAliveMs, t -> response.write(": keep-alive\n\n"));
            response.closeHandler(v -> stop());
            unfollow = job.follow(event -> {
                write(response, event);
                if (event.terminal()) {
                    stop();
                    response.end();
                }
            });
        }

        private void stop() {
            if (!closed) {
                closed = true;
                unfollow.run();
                vertx.cancelTimer(keepAlive);
                metrics.streamClosed();
            }
        }
    }
}
