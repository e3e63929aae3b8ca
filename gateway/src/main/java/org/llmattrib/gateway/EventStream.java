package org.llmattrib.gateway;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;

/**
 * {@code GET /v1/jobs/{id}/events}: Server-Sent Events, one per protocol event ({@code id:} its seq,
 * {@code event:} its type, {@code data:} its JSON as published). Replays the job from the start, or
 * after {@code Last-Event-ID} (header, or query parameter {@code last_event_id}), then follows it
 * live, and ends after the terminal event. It writes no faster than the client reads.
 */
final class EventStream {
    private static final Duration KEEP_ALIVE = Duration.ofSeconds(15);

    private final JobsApi api;
    private final GatewayMetrics metrics;
    /** Often enough that the idle timeout never closes a stream whose client reads. */
    private final long keepAliveMs;
    /** A client that takes nothing of a full write queue for this long is dropped. */
    private final long idleTimeoutMs;

    EventStream(JobsApi api, GatewayMetrics metrics, Duration idleTimeout) {
        this.api = api;
        this.metrics = metrics;
        this.idleTimeoutMs = idleTimeout.toMillis();
        this.keepAliveMs = Math.max(1, Math.min(KEEP_ALIVE.toMillis(), idleTimeoutMs / 2));
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
        new Follower(ctx.vertx(), job, response, after).start();
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

    /**
     * One open stream, until its terminal event or the client leaves. It writes only while the client
     * takes what was written (the job holds the events meanwhile), and closes a stream whose client
     * has taken nothing for the idle timeout.
     */
    private final class Follower {
        private final Vertx vertx;
        private final Job job;
        private final HttpServerResponse response;
        /** The seq of the last event written. */
        private long sent;
        private Runnable unfollow = () -> {};
        private long keepAlive = -1;
        /** While the client's write queue is full: the timer that gives up on it. */
        private long stalled = -1;
        private boolean closed;

        Follower(Vertx vertx, Job job, HttpServerResponse response, long after) {
            this.vertx = vertx;
            this.job = job;
            this.response = response;
            this.sent = after;
        }

        void start() {
            metrics.streamOpened();
            response.closeHandler(v -> stop());
            pump();
            if (!closed) {
                if (!response.headWritten()) {
                    response.writeHead(); // a client waiting for the first event knows the stream is open
                }
                keepAlive = vertx.setPeriodic(keepAliveMs, t -> {
                    if (!response.writeQueueFull()) {
                        response.write(": keep-alive\n\n");
                    }
                });
                unfollow = job.follow(event -> pump());
            }
        }

        /** Writes the events after {@link #sent} while the client keeps up; ends after the terminal one. */
        private void pump() {
            for (StoredEvent event : job.eventsAfter(sent)) {
                if (closed) {
                    return;
                }
                if (response.writeQueueFull()) {
                    awaitDrain();
                    return;
                }
                write(response, event);
                sent = event.seq();
                if (event.terminal()) {
                    end();
                    return;
                }
            }
            if (job.status().terminal()) {
                end();
            }
        }

        private void awaitDrain() {
            if (stalled >= 0) {
                return;
            }
            metrics.streamStalled(1);
            stalled = vertx.setTimer(idleTimeoutMs, t -> {
                stalled = -1;
                metrics.streamStalled(-1);
                metrics.streamDropped();
                stop();
                response.reset();
            });
            response.drainHandler(v -> {
                if (stalled >= 0) {
                    vertx.cancelTimer(stalled);
                    stalled = -1;
                    metrics.streamStalled(-1);
                }
                pump();
            });
        }

        private void end() {
            stop();
            response.end();
        }

        private void stop() {
            if (!closed) {
                closed = true;
                unfollow.run();
                vertx.cancelTimer(keepAlive);
                if (stalled >= 0) {
                    vertx.cancelTimer(stalled);
                    stalled = -1;
                    metrics.streamStalled(-1);
                }
                metrics.streamClosed();
            }
        }
    }
}
