package org.llmattrib.bench;

import ai.djl.Device;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.Libtorch;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.service.JobRunner;

/**
 * The five seed requests as they are, on one resident model on its device and in its type, warmed
 * up at load as a worker is ({@link JobRunner#warmUp}): per request the first run's time (the
 * first is the process's first job), then the median of
 * {@code repeats} warm runs, their model FLOPs per second (the job's {@code work.flops}) and that
 * rate as a share of the matmul peak measured in the same run, and the peak memory of its runs;
 * then bursts of small seed jobs through one worker holding the same model, by {@code --concurrency}.
 */
public final class SeedBenchmark {
    /** The small seed jobs of the bursts. */
    static final List<String> BURST = List.of("seed-token-feature-ablation", "seed-template-shapley");

    private SeedBenchmark() {}

    public static void run(Llama llama, String modelName, int repeats, int burstJobs, List<Integer> levels,
            PrintStream out) throws InterruptedException, ExecutionException {
        LlamaConfig c = llama.model().config();
        Device d = llama.model().manager().getDevice();
        String device = d.isGpu() ? "cuda:" + d.getDeviceId() : "cpu";
        out.println(Libtorch.loaded().describe().lines().findFirst().orElseThrow());
        out.printf("model: %s (%d layers, hidden %d, %.2fB parameters), %s on %s%n", modelName, c.numLayers(),
                c.hiddenSize(), c.parameterCount() / 1e9, llama.model().dtype(), device);
        MatmulPeak peak = MatmulPeak.measure(llama.model(), repeats);
        out.printf("matmul peak, %s on %s: %s%n%n", llama.model().dtype(), device, peak.describe());

        JobRunner runner = new JobRunner(new AttributionEngine(llama, null), new RequestPlanner(llama,
                Limits.gpu()), "bench");
        out.printf("warm-up at load, as a worker does: %.2f s%n%n", runner.warmUp());
        out.printf("%-28s %8s %9s %8s %10s %9s %8s  %s%n", "request", "first s", "median s", "min s", "TFLOP/job",
                "TFLOP/s", "of peak", "peak memory");
        for (String name : Examples.SEED_REQUESTS) {
            byte[] body = Examples.request(name, name);
            PeakMemory memory = PeakMemory.start(llama.model().manager().getDevice());
            Run first = run(runner, body);
            if (first.failure() != null) {
                out.printf("%-28s failed: %s%n", name, first.failure());
                continue;
            }
            double[] seconds = new double[Math.max(1, repeats)];
            for (int r = 0; r < seconds.length; r++) {
                seconds[r] = run(runner, body).seconds();
            }
            Arrays.sort(seconds);
            double median = seconds[seconds.length / 2];
            double rate = first.flops() / median;
            out.printf("%-28s %8.3f %9.3f %8.3f %10.3g %9.3g %7.1f%%  %s%n", name, first.seconds(), median, seconds[0],
                    first.flops() / 1e12, rate / 1e12, 100 * rate / peak.flopsPerSecond(), memory.end());
        }
        out.printf("%nbursts: %d jobs (%s, alternating) submitted at once to one worker (embedded Kafka, share group)"
                + " holding this model, by its --concurrency; each level warmed by one pass first%n", burstJobs,
                String.join(", ", BURST));
        ConcurrencyBenchmark.bursts(llama, BURST, burstJobs, levels, out);
    }

    private record Run(double seconds, double flops, String failure) {}

    private static Run run(JobRunner runner, byte[] body) {
        List<AttributionEvent> events = new ArrayList<>();
        long start = System.nanoTime();
        runner.run(body, Map.of(), () -> false, () -> false, events::add);
        double seconds = (System.nanoTime() - start) / 1e9;
        AttributionEvent last = events.get(events.size() - 1);
        if (last instanceof AttributionEvent.Completed done) {
            return new Run(seconds, done.work().get("flops").doubleValue(), null);
        }
        AttributionEvent.Failed f = (AttributionEvent.Failed) last;
        return new Run(seconds, 0, f.code() + ": " + f.message());
    }
}
