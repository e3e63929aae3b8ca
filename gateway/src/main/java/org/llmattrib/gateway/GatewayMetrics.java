package org.llmattrib.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** The gateway's own meters, beside Vert.x's HTTP server meters. */
final class GatewayMetrics {
    private final Counter events;
    private final Counter duplicates;
    private final Counter notHeld;
    private final Counter undecodable;
    private final Counter submitted;
    private final Counter droppedStreams;
    private final Counter truncated;
    private final AtomicInteger streams = new AtomicInteger();
    private final AtomicInteger stalledStreams = new AtomicInteger();

    GatewayMetrics(MeterRegistry registry, Supplier<Number> jobs, Supplier<Number> ready) {
        events = Counter.builder("gateway_events").description("distinct job events read from the results topic")
                .register(registry);
        duplicates = Counter.builder("gateway_duplicate_events")
                .description("events dropped as a repeated (job_id, seq), e.g. from a rerun").register(registry);
        notHeld = Counter.builder("gateway_events_not_held")
                .description("events of jobs older than the newest held (or whose first event is gone)")
                .register(registry);
        undecodable = Counter.builder("gateway_undecodable_records")
                .description("records of the results topic that are not attribution events").register(registry);
        truncated = Counter.builder("gateway_events_truncated")
                .description("events not held: their job's events would pass --max-job-bytes").register(registry);
        submitted = Counter.builder("gateway_jobs_submitted").description("requests produced by POST /v1/jobs")
                .register(registry);
        Gauge.builder("gateway_jobs", jobs).description("jobs held in memory").register(registry);
        Gauge.builder("gateway_ready", ready).description("1 once the results topic is read up to its end at start")
                .register(registry);
        Gauge.builder("gateway_event_streams", streams, AtomicInteger::get).description("open SSE streams")
                .register(registry);
        Gauge.builder("gateway_event_streams_stalled", stalledStreams, AtomicInteger::get)
                .description("SSE streams waiting for their client to take what was written").register(registry);
        droppedStreams = Counter.builder("gateway_event_streams_dropped")
                .description("SSE streams closed because their client took nothing for the idle timeout")
                .register(registry);
    }

    void eventReceived() {
        events.increment();
    }

    void duplicateReceived() {
        duplicates.increment();
    }

    void notHeld() {
        notHeld.increment();
    }

    void undecodable() {
        undecodable.increment();
    }

    void submitted() {
        submitted.increment();
    }

    void streamOpened() {
        streams.incrementAndGet();
    }

    void streamClosed() {
        streams.decrementAndGet();
    }

    void streamStalled(int delta) {
        stalledStreams.addAndGet(delta);
    }

    void streamDropped() {
        droppedStreams.increment();
    }

    void truncated() {
        truncated.increment();
    }
}
