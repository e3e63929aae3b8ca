package org.llmattrib.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.JobRunner;
import org.llmattrib.service.QueueMode;

/**
 * Jobs per second at several {@code --concurrency} levels for the same batch of small perturbation
 * requests (the seed notebook's, cycled). Through Kafka: submitted at once to an embedded broker,
 * timed from the first submit to the last final event, each level on a fresh worker of the same
 * share group warmed by one pass of the requests. Engine only: the same jobs on that many threads
 * sharing one engine (so one {@link ForwardBatcher}), without Kafka, as {@code explain} runs them.
 */
public final class ConcurrencyBenchmark {
    static final List<String> SEEDS = List.of("seed-token-feature-ablation", "seed-template-shapley",
            "seed-fewshot-segments");
    private static final String GROUP = "bench-concurrency";

    private ConcurrencyBenchmark() {}

    /** One measurement: the batch's wall time, its jobs' median time and queue wait, steps per packed forward. */
    private record Batch(double wallSeconds, double medianJobSeconds, double medianQueueSeconds,
            double stepsPerForward, double forwardSeconds) {}

    /** A level measured once per round. */
    private interface Measure {
        Batch at(int level, int round) throws InterruptedException, ExecutionException;
    }

    /**
     * @param tiny the demo checkpoint: engine only, then through Kafka
     * @param large a bigger model, engine only
     * @param rounds every level is measured once per round, levels interleaved; the best round counts
     */
    public static void run(Path tiny, String device, Precision dtype, Supplier<Llama> large, int jobs,
            List<Integer> levels, int rounds, PrintStream out) throws InterruptedException, ExecutionException {
        out.printf("%d requests (%s, cycled), %s on %s; best of %d rounds, levels interleaved%n%n", jobs,
                String.join(", ", SEEDS), dtype, device, rounds);
        try (Llama llama = Llama.load(tiny, device, dtype.dataType())) {
            out.println("engine only, tiny random Llama (hidden 64, 2 layers): the jobs on N threads sharing one engine");
            table(engineOnly(llama, jobs), levels, rounds, jobs, out);
        }
        out.println("through Kafka, tiny random Llama: one worker with --concurrency N, the requests submitted at once");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, EmbeddedKafka.FAST_SHARE_HEARTBEATS);
                AttributionClient client = new AttributionClient(kafka.bootstrapServers())) {
            kafka.createServiceTopics();
            AttributionWorker.Settings settings = settings(kafka, tiny, device, dtype);
            table(throughKafka(kafka, client, level -> AttributionWorker.start(settings.withConcurrency(level)), SEEDS,
                    jobs), levels, rounds, jobs, out);
        }
        try (Llama llama = large.get()) {
            out.println("engine only, " + llama.model().config().numLayers() + "-layer Llama-3.2-1B shape, random"
                    + " weights: the jobs on N threads sharing one engine");
            table(engineOnly(llama, jobs), levels, rounds, jobs, out);
        }
    }

    /**
     * Bursts of {@code jobs} requests ({@code seeds} cycled) through one worker holding the resident
     * {@code llama}, at each {@code --concurrency} level (one round).
     */
    public static void bursts(Llama llama, List<String> seeds, int jobs, List<Integer> levels, PrintStream out)
            throws InterruptedException, ExecutionException {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, EmbeddedKafka.FAST_SHARE_HEARTBEATS);
                AttributionClient client = new AttributionClient(kafka.bootstrapServers())) {
            kafka.createServiceTopics(3);
            String device = llama.model().manager().getDevice().isGpu() ? "cuda" : "cpu";
            AttributionWorker.Settings settings = settings(kafka, llama.directory(), device, Precision.FLOAT32);
            table(throughKafka(kafka, client, level -> AttributionWorker.start(settings.withConcurrency(level), llama),
                    seeds, jobs), levels, 1, jobs, out);
        }
    }

    private static AttributionWorker.Settings settings(EmbeddedKafka kafka, Path model, String device,
            Precision dtype) {
        return new AttributionWorker.Settings(kafka.bootstrapServers(), model, device, GROUP, null, 0, null,
                Limits.forDevice(device), Map.of(), QueueMode.SHARE, 3).withDtype(dtype);
    }

    private static void table(Measure measure, List<Integer> levels, int rounds, int jobs, PrintStream out)
            throws InterruptedException, ExecutionException {
        Map<Integer, Batch> best = new HashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (int level : levels) {
                Batch b = measure.at(level, round);
                best.merge(level, b, (x, y) -> x.wallSeconds() <= y.wallSeconds() ? x : y);
            }
        }
        out.printf("%-11s %7s %7s %9s %13s %14s %14s %10s%n", "concurrency", "wall s", "jobs/s", "speed-up",
                "median job s", "median queue s", "steps/forward", "forward s");
        double baseline = jobs / best.get(levels.get(0)).wallSeconds();
        for (int level : levels) {
            Batch b = best.get(level);
            double perSecond = jobs / b.wallSeconds();
            out.printf("%-11d %7.2f %7.2f %8.2fx %13.3f %14.3f %14.2f %10.2f%n", level, b.wallSeconds(), perSecond,
                    perSecond / baseline, b.medianJobSeconds(), b.medianQueueSeconds(), b.stepsPerForward(),
                    b.forwardSeconds());
        }
        out.println();
    }

    /** The jobs on {@code level} threads sharing one engine, as {@code explain} runs them (no queue wait). */
    private static Measure engineOnly(Llama llama, int jobs) {
        AttributionEngine engine = new AttributionEngine(llama, null);
        JobRunner runner = new JobRunner(engine, new RequestPlanner(llama, Limits.cpu()), "bench");
        List<byte[]> requests = IntStream.range(0, jobs).mapToObj(i -> request(SEEDS, "e-" + i, i)).toList();
        requests.subList(0, SEEDS.size()).forEach(r -> runner.run(r, Map.of(), () -> false, () -> false, e -> {}));
        return (level, round) -> {
            ExecutorService threads = Executors.newFixedThreadPool(level);
            try {
                ForwardBatcher.Packing before = engine.batcher().packing();
                long start = System.nanoTime();
                List<Future<Double>> seconds = requests.stream().map(r -> threads.submit(() -> {
                    long jobStart = System.nanoTime();
                    JobRunner.Outcome o = runner.run(r, Map.of(), () -> false, () -> false, e -> {});
                    if (o.status() != JobRunner.Status.COMPLETED) {
                        throw new IllegalStateException("a job ended " + o);
                    }
                    return (System.nanoTime() - jobStart) / 1e9;
                })).toList();
                List<Double> jobSeconds = new ArrayList<>();
                for (Future<Double> f : seconds) {
                    jobSeconds.add(f.get());
                }
                ForwardBatcher.Packing after = engine.batcher().packing();
                return new Batch((System.nanoTime() - start) / 1e9, median(jobSeconds), 0,
                        stepsPerForward(before, after), (after.forwardNanos() - before.forwardNanos()) / 1e9);
            } finally {
                threads.shutdown();
            }
        };
    }

    /** Starts a worker with {@code --concurrency level}. */
    private interface Workers {
        AttributionWorker start(int level);
    }

    /** The jobs submitted at once to a fresh worker with {@code --concurrency level}, warmed by one pass first. */
    private static Measure throughKafka(EmbeddedKafka kafka, AttributionClient client, Workers workers,
            List<String> seeds, int jobs) {
        return (level, round) -> {
            String id = "r" + round + "c" + level;
            try (AttributionWorker worker = workers.start(level)) {
                Thread.sleep(1000); // two heartbeats: every member has its partitions
                batch(kafka, client, "warm-" + id, seeds, seeds.size() * level, worker);
                return batch(kafka, client, id, seeds, jobs, worker);
            }
        };
    }

    /** Submits {@code jobs} requests at once and waits for all their final events. */
    private static Batch batch(EmbeddedKafka kafka, AttributionClient client, String prefix, List<String> seeds,
            int jobs, AttributionWorker worker) {
        try (KafkaConsumer<String, byte[]> results = resultsFromEnd(kafka.bootstrapServers())) {
            ForwardBatcher.Packing before = worker.packing();
            long start = System.nanoTime();
            for (int i = 0; i < jobs; i++) {
                client.submitRaw(prefix + "-" + i, request(seeds, prefix + "-" + i, i));
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
            ForwardBatcher.Packing after = worker.packing();
            return new Batch(wall, median(total), median(queue), stepsPerForward(before, after),
                    (after.forwardNanos() - before.forwardNanos()) / 1e9);
        }
    }

    /** The i-th request: the seeds cycled. */
    private static byte[] request(List<String> seeds, String jobId, int i) {
        return Examples.request(seeds.get(i % seeds.size()), jobId);
    }

    private static double stepsPerForward(ForwardBatcher.Packing before, ForwardBatcher.Packing after) {
        return (double) (after.steps() - before.steps()) / (after.forwards() - before.forwards());
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
