package org.llmattrib.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.attribution.Limits;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;

/**
 * Jobs per second of one worker at several {@code --concurrency} levels: the same batch of small
 * perturbation requests (the seed notebook's, cycled) submitted at once to an embedded broker, timed
 * from the first submit to the last final event. Each level has a fresh worker of the same share
 * group, warmed by one pass of the requests first.
 */
public final class ConcurrencyBenchmark {
    static final List<String> SEEDS = List.of("seed-token-feature-ablation", "seed-template-shapley",
            "seed-fewshot-segments");
    private static final String GROUP = "bench-concurrency";

    private ConcurrencyBenchmark() {}

    public static void run(Path model, int jobs, List<Integer> levels, PrintStream out) {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of());
                AttributionClient client = new AttributionClient(kafka.bootstrapServers())) {
            kafka.createServiceTopics(3);
            out.printf("%d requests (%s, cycled), submitted at once; tiny random Llama on the CPU%n", jobs,
                    String.join(", ", SEEDS));
            out.printf("%-11s %7s %7s %9s %13s %13s%n", "concurrency", "wall s", "jobs/s", "speed-up",
                    "median job s", "median queue s");
            double baseline = 0;
            for (int level : levels) {
                try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(
                        kafka.bootstrapServers(), model, "cpu", GROUP, "bench-" + level, 0, null, Limits.cpu(), Map.of(),
                        QueueMode.SHARE, 3).withConcurrency(level))) {
                    batch(kafka, client, "warm-" + level, SEEDS.size());
                    Batch b = batch(kafka, client, "c" + level, jobs);
                    double perSecond = jobs / b.wallSeconds();
                    baseline = baseline == 0 ? perSecond : baseline;
                    out.printf("%-11d %7.2f %7.2f %8.2fx %13.3f %13.3f%n", level, b.wallSeconds(), perSecond,
                            perSecond / baseline, b.medianJobSeconds(), b.medianQueueSeconds());
                }
            }
        }
    }

    private record Batch(double wallSeconds, double medianJobSeconds, double medianQueueSeconds) {}

    /** Submits {@code jobs} requests at once and waits for all their final events. */
    private static Batch batch(EmbeddedKafka kafka, AttributionClient client, String prefix, int jobs) {
        try (KafkaConsumer<String, byte[]> results = resultsFromEnd(kafka.bootstrapServers())) {
            long start = System.nanoTime();
            for (int i = 0; i < jobs; i++) {
                ObjectNode node = AttributionBenchmark.example(SEEDS.get(i % SEEDS.size()));
                String jobId = prefix + "-" + i;
                node.put("job_id", jobId);
                client.submitRaw(jobId, Protocol.encode(node));
            }
            Map<String, AttributionEvent> ends = new HashMap<>();
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (ends.size() < jobs) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("only " + ends.size() + " of " + jobs + " jobs ended in 10 minutes");
                }
                for (ConsumerRecord<String, byte[]> r : results.poll(Duration.ofMillis(20))) {
                    AttributionEvent e = Protocol.decodeEvent(r.value());
                    if (e.jobId().startsWith(prefix + "-") && (e instanceof AttributionEvent.Completed
                            || e instanceof AttributionEvent.Failed)) {
                        ends.put(e.jobId(), e);
                    }
                }
            }
            double wall = (System.nanoTime() - start) / 1e9;
            List<Double> total = new ArrayList<>();
            List<Double> queue = new ArrayList<>();
            for (AttributionEvent e : ends.values()) {
                if (!(e instanceof AttributionEvent.Completed done)) {
                    throw new IllegalStateException(e.jobId() + " failed: " + ((AttributionEvent.Failed) e).message());
                }
                total.add(done.timings().get("total_ms") / 1000);
                queue.add(done.timings().get("queue_ms") / 1000);
            }
            return new Batch(wall, median(total), median(queue));
        }
    }

    private static KafkaConsumer<String, byte[]> resultsFromEnd(String bootstrap) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()));
        List<TopicPartition> partitions = c.partitionsFor(Protocol.RESULTS_TOPIC).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        c.assign(partitions);
        c.seekToEnd(partitions);
        partitions.forEach(c::position);
        return c;
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v[v.length / 2];
    }
}
