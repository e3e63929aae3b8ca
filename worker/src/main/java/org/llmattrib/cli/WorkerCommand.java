package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.QueueMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Runs one worker until SIGTERM/SIGINT, then abandons the running job (uncommitted) and leaves the group. */
@Command(name = "worker", description = "Run an attribution worker: consume requests, stream results.")
final class WorkerCommand implements Callable<Integer> {
    @Option(names = "--bootstrap", required = true, defaultValue = "${env:KAFKA_BOOTSTRAP}", description = "Kafka bootstrap servers")
    String bootstrap;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--group", defaultValue = "attribution-workers", description = "share group or consumer group (default: ${DEFAULT-VALUE})")
    String group;

    @Option(names = "--queue", defaultValue = "share", description = "share: a share group (Kafka 4.2+), any number of "
            + "workers per partition; group: a consumer group, for brokers without share groups (default: ${DEFAULT-VALUE})")
    QueueMode queue;

    @Option(names = "--max-attempts", defaultValue = "3", description = "runs of one request before it fails as "
            + "too_many_attempts; share mode: keep it below the broker's group.share.delivery.count.limit (default: ${DEFAULT-VALUE})")
    int maxAttempts;

    @Option(names = "--instance-id", description = "worker id, e.g. the pod name; in group mode also static membership (group.instance.id)")
    String instanceId;

    @Option(names = "--metrics-port", defaultValue = "9400", description = "Prometheus /metrics and /health/* (default: ${DEFAULT-VALUE})")
    int metricsPort;

    @Option(names = "--result-store", description = "directory for unreduced tensors (reduce: none)")
    Path resultStore;

    @Option(names = "--max-prompt-tokens", defaultValue = "4096")
    int maxPromptTokens;

    @Option(names = "--session-timeout-ms", defaultValue = "45000", description = "consumer session timeout (group mode; a share group's is set on the broker)")
    int sessionTimeoutMs;

    @Override
    public Integer call() throws InterruptedException {
        AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(bootstrap, modelOptions.model,
                modelOptions.device, group, instanceId, metricsPort, resultStore, maxPromptTokens,
                Map.of("session.timeout.ms", sessionTimeoutMs, "heartbeat.interval.ms", Math.max(100, sessionTimeoutMs / 5)),
                queue, maxAttempts));
        System.err.println("worker " + worker.workerId() + " ready: group " + group + " (" + queue.name().toLowerCase()
                + "), metrics on :" + worker.metricsPort());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
