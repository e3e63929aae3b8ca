package org.llmattrib.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.llmattrib.llama.KvCache;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.LlamaModel;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.Taps;

/**
 * Forward throughput of a Llama-3.2-1B-shaped model with random weights, beside the machine's
 * matmul rate in the same type: what fraction of the hardware the forward uses. One section per
 * model type, in one run, so that their ratios are measured together. The float32 rate is measured
 * twice, through libtorch and through an independent BLAS ({@link ReferenceBlas}), and float32's "of
 * peak" is against the higher, so that it means the processor's rate and not libtorch's.
 */
public final class RuntimeBenchmark {
    private RuntimeBenchmark() {}

    public static void run(int layers, int repeats, String device, List<Precision> dtypes, PrintStream out) {
        out.printf("model: Llama-3.2-1B shape, %d layers, %.2fB parameters, random weights%n", layers,
                RandomLlama.llama32OneB(layers).parameterCount() / 1e9);
        boolean cpu = device.equals("cpu");
        ReferenceBlas.Rate reference = cpu ? ReferenceBlas.measure(3 * repeats) : null;
        if (cpu) {
            out.println("float32 matmul [512x2048]x[2048x8192], reference: " + reference.describe());
        }
        for (Precision dtype : dtypes) {
            long before = residentBytes();
            try (LlamaModel model = RandomLlama.create(RandomLlama.llama32OneB(layers), 1, device, dtype.dataType())) {
                String caveat = dtype == dtypes.get(0) ? ""
                        : " (reusing memory an earlier model freed: run this type alone to measure it)";
                out.printf("%n%s model: resident memory grew by %.2f GiB%s%n", dtype,
                        (residentBytes() - before) / 0x1p30, caveat);
                MatmulPeak matmul = MatmulPeak.measure(model, repeats);
                double libtorch = matmul.flopsPerSecond() / 1e9;
                out.printf("%s matmul %s, libtorch on %s (%d threads): %.1f GFLOP/s%n", dtype,
                        matmul.describe().replaceAll(":.*", ""), device, JniUtils.getNumThreads(), libtorch);
                boolean referenced = cpu && dtype == Precision.FLOAT32 && !Double.isNaN(reference.gflops());
                double peak = referenced ? Math.max(libtorch, reference.gflops()) : libtorch;
                out.printf("%s peak: %.1f GFLOP/s (%s)%n", dtype, peak,
                        referenced ? "the higher of libtorch and the reference" : "libtorch's rate in this type");
                out.printf("%-34s %10s %12s %10s %8s%n", "case (" + dtype + ")", "seconds", "tokens/s", "GFLOP/s",
                        "of peak");
                prefill(model, 1, 32, repeats, peak, out);
                prefill(model, 16, 32, repeats, peak, out);
                decode(model, 1, 32, 16, peak, out);
                decode(model, 16, 32, 16, peak, out);
            }
            hostCost(device, dtype.dataType(), repeats, out);
        }
    }

    /**
     * The host's cost per decoder layer of a cached step, on a model so narrow (1B's 16 layers,
     * hidden 64, vocabulary 256) that its arithmetic is nothing: what each layer costs in calls, the
     * bound on a GPU forward at the seed requests' sizes. Each layer as one fused call (a forward
     * without taps) against the same layer operation by operation (every tap captured), in one run.
     */
    private static void hostCost(String device, DataType dtype, int repeats, PrintStream out) {
        LlamaConfig narrow = new LlamaConfig(256, 64, 128, 16, 4, 2, 16, 1e-5, 500000.0, null, true, 1, List.of(2));
        try (LlamaModel model = RandomLlama.create(narrow, 1, device, dtype)) {
            double fused = Double.MAX_VALUE;
            double stepwise = Double.MAX_VALUE;
            for (int r = 0; r <= repeats; r++) {
                fused = Math.min(fused, microsPerLayerStep(model, false));
                stepwise = Math.min(stepwise, microsPerLayerStep(model, true));
            }
            out.printf("host cost per decoder layer and cached step (16 layers, hidden 64, 18 rows, %s): fused %.0f us,"
                    + " operation by operation %.0f us (%.1fx)%n", dtype, fused, stepwise, stepwise / fused);
        }
    }

    /** 18 rows, 4 prompt tokens, then 16 cached steps of one token each, each read back: microseconds per layer-step. */
    private static double microsPerLayerStep(LlamaModel model, boolean everyTap) {
        int rows = 18;
        int steps = 16;
        try (NDManager m = model.manager().newSubManager()) {
            KvCache cache = new KvCache(model.config().numLayers());
            NDArray ids = m.randomInteger(0, model.config().vocabSize(), new Shape(rows, 4), DataType.INT64);
            model.forward(ids, m.ones(ids.getShape(), DataType.INT64), Taps.NONE, cache);
            long start = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray next = step.randomInteger(0, model.config().vocabSize(), new Shape(rows, 1), DataType.INT64);
                    Taps taps = everyTap ? Taps.capturing(Set.copyOf(model.tapNames())) : Taps.NONE;
                    NDArray hidden = model.forward(next, step.ones(next.getShape(), DataType.INT64), taps, cache);
                    cache.attach(m);
                    model.logitsAt(hidden, lastPositions(rows, 1)).toFloatArray();
                }
            }
            return (System.nanoTime() - start) / 1e3 / steps / model.config().numLayers();
        }
    }

    /** Full forward over batch x length tokens, LM head at each row's last position. */
    private static void prefill(LlamaModel model, int batch, int length, int repeats, double peak, PrintStream out) {
        double seconds = Double.MAX_VALUE;
        for (int r = 0; r <= repeats; r++) {
            try (NDManager m = model.manager().newSubManager()) {
                NDArray ids = m.randomInteger(0, model.config().vocabSize(), new Shape(batch, length), DataType.INT64);
                long start = System.nanoTime();
                NDArray hidden = model.forward(ids, m.ones(ids.getShape(), DataType.INT64), Taps.NONE, null);
                model.logitsAt(hidden, lastPositions(batch, length)).toFloatArray();
                if (r > 0) {
                    seconds = Math.min(seconds, (System.nanoTime() - start) / 1e9);
                }
            }
        }
        long flops = model.forwardFlops((long) batch * length, (length + 1) / 2, batch);
        report(out, String.format("prefill batch %d x %d tokens", batch, length), seconds, batch * length, flops, peak);
    }

    /** Greedy-style decode steps of one token per row after a prompt of {@code context} tokens. */
    private static void decode(LlamaModel model, int batch, int context, int steps, double peak, PrintStream out) {
        try (NDManager m = model.manager().newSubManager()) {
            KvCache cache = new KvCache(model.config().numLayers());
            NDArray ids = m.randomInteger(0, model.config().vocabSize(), new Shape(batch, context), DataType.INT64);
            model.forward(ids, m.ones(ids.getShape(), DataType.INT64), Taps.NONE, cache);
            long start = System.nanoTime();
            long flops = 0;
            for (int s = 0; s < steps; s++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray next = step.randomInteger(0, model.config().vocabSize(), new Shape(batch, 1), DataType.INT64);
                    NDArray hidden = model.forward(next, step.ones(next.getShape(), DataType.INT64), Taps.NONE, cache);
                    cache.attach(m);
                    model.logitsAt(hidden, lastPositions(batch, 1)).toFloatArray();
                }
                flops += model.forwardFlops(batch, context + s + 1, batch);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            report(out, String.format("decode batch %d, %d steps after %d", batch, steps, context), seconds,
                    batch * steps, flops, peak);
        }
    }

    /** This process's resident set (VmRSS of /proc/self/status, Linux), 0 where there is none. */
    private static long residentBytes() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024).findFirst().orElse(0);
        } catch (IOException e) {
            return 0;
        }
    }

    private static long[] lastPositions(int batch, int length) {
        long[] p = new long[batch];
        for (int b = 0; b < batch; b++) {
            p[b] = (long) b * length + length - 1;
        }
        return p;
    }

    private static void report(PrintStream out, String name, double seconds, long tokens, long flops, double peak) {
        double gflops = flops / seconds / 1e9;
        out.printf("%-34s %10.3f %12.1f %10.1f %7.0f%%%n", name, seconds, tokens / seconds, gflops, 100 * gflops / peak);
    }
}
