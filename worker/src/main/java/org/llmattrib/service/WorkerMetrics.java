package org.llmattrib.service;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.protocol.ErrorCode;

/** The worker's own meters, next to Vert.x's, in the Prometheus registry. */
public final class WorkerMetrics implements QueueLoop.Observer {
    private final MeterRegistry registry;
    private final Timer jobSeconds;
    private final Timer queueWait;
    private final Counter tokens;
    private final Counter commitFailures;
    private final AtomicInteger paused = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong lastTokensPerSecondMilli = new AtomicLong();

    public WorkerMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.jobSeconds = Timer.builder("attribution.job.duration").description("seconds per attribution job")
                .register(registry);
        this.queueWait = Timer.builder("attribution.queue.wait").description("time from request produced to job start")
                .register(registry);
        this.tokens = Counter.builder("attribution.tokens").description("target tokens attributed").register(registry);
        this.commitFailures = Counter.builder("attribution.commit.failures")
                .description("offset commits refused (rebalance, broker move) and retried").register(registry);
        registry.gauge("attribution.paused.partitions", paused);
        registry.gauge("attribution.jobs.running", running);
        registry.gauge("attribution.last.job.tokens.per.second", lastTokensPerSecondMilli, v -> v.get() / 1000.0);
    }

    /** How the perturbation jobs' forward steps are packed: steps per packed forward = steps / packs. */
    public void forwards(ForwardBatcher batcher) {
        FunctionCounter.builder("attribution.forward.steps", batcher, b -> b.packing().steps())
                .description("forward steps of perturbation jobs").register(registry);
        FunctionCounter.builder("attribution.forward.packs", batcher, b -> b.packing().forwards())
                .description("packed forwards that ran those steps").register(registry);
    }

    /** A job starts running (at most {@code --concurrency} at once); {@link #jobEnded} when it stops. */
    public void jobStarted() {
        running.incrementAndGet();
    }

    public void jobEnded() {
        running.decrementAndGet();
    }

    /** One finished job (a running one, or one answered without running); code is the failure code, or null (tag "none"). */
    public void job(JobRunner.Status outcome, ErrorCode code, Duration duration, int targetTokens) {
        Counter.builder("attribution.jobs").tag("outcome", outcome.tag()).tag("code", code == null ? "none" : code.wire())
                .register(registry).increment();
        jobSeconds.record(duration);
        tokens.increment(targetTokens);
        if (targetTokens > 0 && !duration.isZero()) {
            lastTokensPerSecondMilli.set(Math.round(1000.0 * targetTokens * 1e9 / duration.toNanos()));
        }
    }

    @Override
    public void queueWait(long millis) {
        queueWait.record(Duration.ofMillis(millis));
    }

    @Override
    public void pausedPartitions(int count) {
        paused.set(count);
    }

    @Override
    public void commitFailed() {
        commitFailures.increment();
    }

    public double commitFailures() {
        return commitFailures.count();
    }
}
