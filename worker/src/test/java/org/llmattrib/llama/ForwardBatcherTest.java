package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;

/**
 * A packed forward equals its steps run one by one: steps with caches of different lengths (one
 * empty, one with padding of its own), different widths and row counts, over two steps so that the
 * caches handed back are checked too. In FLOAT64, so the only difference is summation order.
 */
class ForwardBatcherTest {

    /** A job's rows: the tokens already in its cache, then the new tokens of each step, [rows][width] (0: padding). */
    private record Script(long[][] history, List<long[][]> steps) {}

    private final LlamaModel model = TestModels.goldenModel("tiny-llama-tied", dtype()).model();

    DataType dtype() {
        return DataType.FLOAT64;
    }

    /** The largest difference of a log-prob between a packed step and the step alone. */
    double tolerance() {
        return 1e-10;
    }

    private final Random random = new Random(7);

    private final List<Script> scripts = List.of(
            new Script(null, List.of(tokens(1, 4), tokens(1, 1))),
            new Script(tokens(2, 3), List.of(tokens(2, 1), tokens(2, 3))),
            new Script(padded(tokens(3, 5)), List.of(padded(tokens(3, 2)), tokens(3, 1))));

    @Test
    void aPackedForwardEqualsItsStepsRunOneByOne() {
        try (NDManager m = model.manager().newSubManager()) {
            List<KvCache> packedCaches = scripts.stream().map(s -> history(s, m)).toList();
            List<KvCache> aloneCaches = scripts.stream().map(s -> history(s, m)).toList();
            ForwardBatcher batcher = new ForwardBatcher(model);
            for (int step = 0; step < 2; step++) {
                List<ForwardBatcher.Step> steps = new ArrayList<>();
                for (int i = 0; i < scripts.size(); i++) {
                    steps.add(step(scripts.get(i).steps().get(step), packedCaches.get(i), m));
                }
                try (NDManager scratch = model.manager().newSubManager()) {
                    List<NDArray> packed = batcher.forward(steps, scratch);
                    for (int i = 0; i < scripts.size(); i++) {
                        double[] alone = alone(scripts.get(i).steps().get(step), aloneCaches.get(i), m);
                        assertClose(doubles(packed.get(i)), alone, "step " + step + " of job " + i);
                        assertThat(packedCaches.get(i).length()).isEqualTo(aloneCaches.get(i).length());
                    }
                }
            }
        }
    }

    @Test
    void concurrentLanesGetWhatEachStepAloneGets() throws Exception {
        ForwardBatcher batcher = new ForwardBatcher(model);
        CyclicBarrier start = new CyclicBarrier(scripts.size());
        List<CompletableFuture<List<double[]>>> runs = new ArrayList<>();
        for (Script s : scripts) {
            runs.add(CompletableFuture.supplyAsync(() -> {
                List<double[]> out = new ArrayList<>();
                try (NDManager m = model.manager().newSubManager(); ForwardBatcher.Lane lane = batcher.lane()) {
                    KvCache cache = history(s, m);
                    await(start);
                    for (long[][] tokens : s.steps()) {
                        out.add(doubles(lane.forward(step(tokens, cache, m))));
                    }
                }
                return out;
            }));
        }
        try (NDManager m = model.manager().newSubManager()) {
            for (int i = 0; i < scripts.size(); i++) {
                KvCache cache = history(scripts.get(i), m);
                List<double[]> got = runs.get(i).get();
                for (int step = 0; step < got.size(); step++) {
                    assertClose(got.get(step), alone(scripts.get(i).steps().get(step), cache, m), "step " + step);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    private long[][] tokens(int rows, int width) {
        long[][] t = new long[rows][width];
        for (long[] row : t) {
            for (int j = 0; j < width; j++) {
                row[j] = 1 + random.nextInt(model.config().vocabSize() - 1);
            }
        }
        return t;
    }

    /** The first row left-padded by one position. */
    private static long[][] padded(long[][] tokens) {
        tokens[0][0] = 0;
        return tokens;
    }

    private KvCache history(Script s, NDManager m) {
        KvCache cache = new KvCache(model.config().numLayers());
        if (s.history() != null) {
            alone(s.history(), cache, m);
        }
        return cache;
    }

    private static ForwardBatcher.Step step(long[][] tokens, KvCache cache, NDManager m) {
        int rows = tokens.length;
        int width = tokens[0].length;
        long[] ids = new long[rows * width];
        long[] mask = new long[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < width; j++) {
                ids[r * width + j] = tokens[r][j];
                mask[r * width + j] = tokens[r][j] == 0 ? 0 : 1;
            }
        }
        return new ForwardBatcher.Step(ids, mask, rows, width, cache, m, m);
    }

    /** The step as the scorer ran it before packing: the model's forward on this cache alone. */
    private double[] alone(long[][] tokens, KvCache cache, NDManager m) {
        ForwardBatcher.Step s = step(tokens, cache, m);
        NDArray hidden = model.forward(m.create(s.ids()).reshape(s.rows(), s.width()),
                m.create(s.mask()).reshape(s.rows(), s.width()), Taps.NONE, cache);
        cache.attach(m);
        long[] last = new long[s.rows()];
        for (int r = 0; r < s.rows(); r++) {
            last[r] = (long) r * s.width() + s.width() - 1;
        }
        return doubles(model.logSoftmaxAt(hidden, last));
    }

    private static double[] doubles(NDArray logProbs) {
        return logProbs.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private void assertClose(double[] actual, double[] expected, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as(what + ": largest difference").isLessThan(tolerance());
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
