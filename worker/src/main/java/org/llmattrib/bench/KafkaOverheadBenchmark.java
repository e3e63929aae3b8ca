package org.llmattrib.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;
import org.llmattrib.service.JobRunner;

/**
 * What the Kafka path adds to a job: the same request run locally (as {@code explain} does) and
 * through broker, worker and client (submit to final event received), medians of several runs.
 */
public final class KafkaOverheadBenchmark {
    private KafkaOverheadBenchmark() {}

    public static void run(Path model, int repeats, PrintStream out) {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(3);
            try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                    model, "cpu", "bench-workers", "bench-worker", 0, null, 8192, Map.of(),
                    QueueMode.GROUP, 3));
                    AttributionClient client = new AttributionClient(kafka.bootstrapServers())) {
                JobRunner local = new JobRunner(new AttributionEngine(worker.llama(), null),
                        new RequestPlanner(worker.llama(), 8192), "local");
                out.printf("%-28s %12s %12s %12s%n", "request", "explain ms", "kafka ms", "added ms");
                for (AttributionBenchmark.Case c : AttributionBenchmark.seedCases()) {
                    double[] direct = new double[repeats];
                    double[] viaKafka = new double[repeats];
                    for (int r = 0; r < repeats; r++) {
                        ObjectNode node = AttributionBenchmark.example(c.example());
                        String jobId = c.example() + "-" + r + "-" + System.nanoTime();
                        node.put("job_id", jobId);
                        byte[] body = Protocol.encode(node);
                        long start = System.nanoTime();
                        local.run(body, Map.of(), () -> false, () -> false, e -> {});
                        direct[r] = (System.nanoTime() - start) / 1e6;
                        start = System.nanoTime();
                        client.submitAndFollow(jobId, body, Duration.ofMinutes(10), e -> {});
                        viaKafka[r] = (System.nanoTime() - start) / 1e6;
                    }
                    double d = median(direct);
                    double k = median(viaKafka);
                    out.printf("%-28s %12.1f %12.1f %12.1f%n", c.example(), d, k, k - d);
                }
            }
        }
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }

}
