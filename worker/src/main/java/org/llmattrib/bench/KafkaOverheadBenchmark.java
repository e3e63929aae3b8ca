package org.llmattrib.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.gateway.Examples;
import org.llmattrib.gateway.Gateway;
import org.llmattrib.gateway.GatewayClient;
import org.llmattrib.gateway.GatewayConfig;
import org.llmattrib.llama.Precision;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.JobRunner;
import org.llmattrib.service.QueueMode;

/**
 * What the Kafka path adds to a job: the same request run locally (as {@code explain} does), through
 * broker, worker and the Java client (submit to final event received), and through the HTTP gateway
 * (POST to the terminal Server-Sent Event received), medians of several runs. The gateway's added
 * latency is measured against the job's own {@code total_ms}, as its completed event reports it.
 */
public final class KafkaOverheadBenchmark {
    /** Before each Kafka run, the worker is left idle this long, as it is for a request that comes alone. */
    private static final long IDLE_MS = 300;

    private KafkaOverheadBenchmark() {}

    public static void run(Path model, String device, Precision dtype, int repeats, PrintStream out)
            throws IOException, InterruptedException {
        out.printf("tiny random Llama, %s on %s%n", dtype, device);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(3);
            try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                    model, device, "bench-workers", "bench-worker", 0, null, Limits.forDevice(device), Map.of(),
                    QueueMode.GROUP, 3).withDtype(dtype));
                    AttributionClient client = new AttributionClient(kafka.bootstrapServers());
                    Gateway gateway = Gateway.start(GatewayConfig.local(kafka.bootstrapServers()))) {
                gateway.awaitReady(Duration.ofSeconds(30));
                GatewayClient http = new GatewayClient(URI.create(gateway.url()), null);
                JobRunner local = new JobRunner(new AttributionEngine(worker.llama(), null),
                        new RequestPlanner(worker.llama(), Limits.forDevice(device)), "local");
                out.printf("%-28s %10s %9s %9s %10s %9s %13s %8s%n", "request", "explain ms", "kafka ms",
                        "added ms", "gateway ms", "total_ms", "gateway added", "queue_ms");
                for (AttributionBenchmark.Case c : AttributionBenchmark.seedCases()) {
                    double[] direct = new double[repeats];
                    double[] viaKafka = new double[repeats];
                    double[] viaGateway = new double[repeats];
                    double[] total = new double[repeats];
                    double[] gatewayAdded = new double[repeats];
                    double[] queue = new double[repeats];
                    for (int r = 0; r < repeats; r++) {
                        ObjectNode node = (ObjectNode) Examples.read(c.example());
                        String jobId = c.example() + "-" + r + "-" + System.nanoTime();
                        node.put("job_id", jobId);
                        byte[] body = Protocol.encode(node);
                        long start = System.nanoTime();
                        local.run(body, Map.of(), () -> false, () -> false, e -> {});
                        direct[r] = (System.nanoTime() - start) / 1e6;
                        Thread.sleep(IDLE_MS);
                        start = System.nanoTime();
                        client.submitAndFollow(jobId, body, Duration.ofMinutes(10), e -> {});
                        viaKafka[r] = (System.nanoTime() - start) / 1e6;
                        node.put("job_id", jobId + "-http");
                        Thread.sleep(IDLE_MS);
                        start = System.nanoTime();
                        AttributionEvent.Completed done = viaGateway(http, jobId + "-http", Protocol.encode(node));
                        viaGateway[r] = (System.nanoTime() - start) / 1e6;
                        total[r] = done.timings().get("total_ms");
                        gatewayAdded[r] = viaGateway[r] - total[r];
                        queue[r] = done.timings().get("queue_ms");
                    }
                    double d = median(direct);
                    double k = median(viaKafka);
                    out.printf("%-28s %10.1f %9.1f %9.1f %10.1f %9.1f %13.1f %8.1f%n", c.example(), d, k, k - d,
                            median(viaGateway), median(total), median(gatewayAdded), median(queue));
                }
            }
        }
    }

    /** POSTs the request and reads its Server-Sent Events to the end; the completed event. */
    private static AttributionEvent.Completed viaGateway(GatewayClient http, String jobId, byte[] body)
            throws IOException, InterruptedException {
        if (http.submit(body).statusCode() != 202) {
            throw new IllegalStateException("the gateway refused " + jobId);
        }
        AttributionEvent[] last = new AttributionEvent[1];
        http.events(jobId, -1, sse -> last[0] = Protocol.decodeEvent(sse.data().getBytes(StandardCharsets.UTF_8)));
        if (!(last[0] instanceof AttributionEvent.Completed done)) {
            throw new IllegalStateException(jobId + " did not complete: " + last[0]);
        }
        return done;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }

}
