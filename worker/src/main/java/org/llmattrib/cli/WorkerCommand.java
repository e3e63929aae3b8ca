package org.llmattrib.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.QueueMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs one worker until SIGTERM/SIGINT, then stops taking jobs, lets the running ones finish within
 * --drain-timeout (else leaves it to another worker: released in a share group, uncommitted in a
 * consumer group) and leaves the group.
 */
@Command(name = "worker", description = "Run an attribution worker: consume requests, stream results.")
final class WorkerCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--group", defaultValue = "attribution-workers", description = "share group or consumer group (default: ${DEFAULT-VALUE})")
    String group;

    @Option(names = "--queue", defaultValue = "share", description = "share: a share group (Kafka 4.2+), any number of "
            + "workers per partition; group: a consumer group, for brokers without share groups (default: ${DEFAULT-VALUE})")
    QueueMode queue;

    @Option(names = "--concurrency", defaultValue = "1", description = "jobs run at once; their perturbation forwards"
            + " are packed into shared batches (share queue only; default: ${DEFAULT-VALUE})")
    int concurrency;

    @Option(names = "--max-attempts", defaultValue = "3", description = "runs of one request before it fails as "
            + "too_many_attempts; share mode: keep it below the broker's group.share.delivery.count.limit (default: ${DEFAULT-VALUE})")
    int maxAttempts;

    @Option(names = "--instance-id", description = "worker id, e.g. the pod name; in group mode also static membership (group.instance.id)")
    String instanceId;

    @Option(names = "--metrics-port", defaultValue = "9400", description = "Prometheus /metrics and /health/* (default:"
            + " ${DEFAULT-VALUE}; 0: any free port, printed at start, for several workers on one host)")
    int metricsPort;

    @Option(names = "--bind-address", defaultValue = "0.0.0.0", description = "interface of /metrics and /health/*"
            + " (default: ${DEFAULT-VALUE}, every interface, as a container needs; 127.0.0.1 on a shared host)")
    String bindAddress;

    @Option(names = "--drain-timeout", defaultValue = "PT30S", description = "on SIGTERM, how long the running jobs may"
            + " take to finish before each is left to another worker (default: ${DEFAULT-VALUE})")
    Duration drainTimeout;

    @Option(names = "--stall-timeout", defaultValue = "PT30M", description = "a job that reaches no checkpoint between"
            + " model steps for this long (a hung thread) is given back to the queue for another worker, and this"
            + " worker's /health/live answers 503 (default: ${DEFAULT-VALUE}, above the longest step the CPU limits"
            + " allow)")
    Duration stallTimeout;

    @Option(names = "--result-store", description = "directory for unreduced tensors (reduce: none)")
    Path resultStore;

    @Mixin
    LimitOptions limitOptions;

    @Option(names = "--session-timeout-ms", defaultValue = "45000", description = "consumer session timeout (group mode; a share group's is set on the broker)")
    int sessionTimeoutMs;

    @Override
    public Integer call() throws Exception {
        AttributionWorker.Settings settings = new AttributionWorker.Settings(kafka.bootstrap,
                kafka.properties(), modelOptions.model, modelOptions.device, modelOptions.dtype, group, instanceId,
                bindAddress, metricsPort, resultStore, limitOptions.limits(modelOptions.device), kafka.connectTimeout,
                drainTimeout, stallTimeout,
                Map.of("session.timeout.ms", sessionTimeoutMs, "heartbeat.interval.ms", Math.max(100, sessionTimeoutMs / 5)),
                queue, maxAttempts, concurrency);
        AttributionWorker worker = Ports.listen("metrics and health", bindAddress, metricsPort, "--metrics-port",
                () -> AttributionWorker.start(settings));
        System.err.println("worker " + worker.workerId() + " ready: group " + group + " (" + queue.name().toLowerCase()
                + ", " + EventView.count(concurrency, "job") + " at once), metrics on " + bindAddress
                + ":" + worker.metricsPort());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
