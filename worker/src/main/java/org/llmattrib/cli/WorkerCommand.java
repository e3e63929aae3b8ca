package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.service.AttributionWorker;
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

    @Option(names = "--group", defaultValue = "attribution-workers", description = "consumer group (default: ${DEFAULT-VALUE})")
    String group;

    @Option(names = "--instance-id", description = "static group membership (group.instance.id), e.g. the pod name")
    String instanceId;

    @Option(names = "--metrics-port", defaultValue = "9400", description = "Prometheus /metrics and /health/* (default: ${DEFAULT-VALUE})")
    int metricsPort;

    @Option(names = "--result-store", description = "directory for unreduced tensors (reduce: none)")
    Path resultStore;

    @Mixin
    LimitOptions limitOptions;

    @Option(names = "--session-timeout-ms", defaultValue = "45000", description = "consumer session timeout")
    int sessionTimeoutMs;

    @Override
    public Integer call() throws InterruptedException {
        AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(bootstrap, modelOptions.model,
                modelOptions.device, group, instanceId, metricsPort, resultStore, limitOptions.limits(modelOptions.device),
                Map.of("session.timeout.ms", sessionTimeoutMs, "heartbeat.interval.ms", Math.max(100, sessionTimeoutMs / 5))));
        System.err.println("worker " + worker.workerId() + " ready: group " + group + ", metrics on :" + worker.metricsPort());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
