package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Properties of the forward pass that must hold whatever the weights. */
class ForwardPropertiesTest {
    private static final long[] PROMPT = {1, 17, 300, 42, 999, 5};

    private static float[] logitsOf(LlamaModel model, NDManager m, long[] ids) {
        NDArray idArray = m.create(ids).reshape(1, ids.length);
        NDArray hidden = model.forward(idArray, m.ones(idArray.getShape()), Taps.NONE, null);
        return model.logitsAt(hidden, range(0, ids.length)).toFloatArray();
    }

    private static long[] range(long from, long to) {
        long[] r = new long[(int) (to - from)];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    @Test
    void generationWithKvCacheEqualsGenerationByFullForwards() {
        Llama llama = TestModels.goldenModel("tiny-llama-sharded", DataType.FLOAT32);
        LlamaModel model = llama.model();
        int steps = 12;
        long[] cached = llama.generate(PROMPT, steps, false);
        long[] seq = PROMPT;
        try (NDManager m = model.manager().newSubManager()) {
            for (int s = 0; s < steps; s++) {
                float[] logits = logitsOf(model, m, seq);
                int vocab = model.config().vocabSize();
                int best = 0;
                for (int v = 1; v < vocab; v++) {
                    if (logits[(seq.length - 1) * vocab + v] > logits[(seq.length - 1) * vocab + best]) {
                        best = v;
                    }
                }
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
        }
        assertThat(cached).containsExactly(Arrays.copyOfRange(seq, PROMPT.length, seq.length));
    }

    @Test
    void eachRowOfAPaddedBatchEqualsThatSequenceAlone() {
        LlamaModel model = TestModels.goldenModel("tiny-llama-tied", DataType.FLOAT32).model();
        List<long[]> seqs = List.of(PROMPT, new long[] {1, 7, 8}, new long[] {1, 900, 3, 4, 5, 6, 7, 8, 9});
        int len = 9;
        int vocab = model.config().vocabSize();
        try (NDManager m = model.manager().newSubManager()) {
            // row 0 right-padded, row 1 left-padded, row 2 full: positions must ignore padding either way
            long[] ids = new long[seqs.size() * len];
            long[] mask = new long[seqs.size() * len];
            int[] offsets = {0, len - 3, 0};
            for (int r = 0; r < seqs.size(); r++) {
                for (int i = 0; i < seqs.get(r).length; i++) {
                    ids[r * len + offsets[r] + i] = seqs.get(r)[i];
                    mask[r * len + offsets[r] + i] = 1;
                }
            }
            NDArray idArray = m.create(ids).reshape(seqs.size(), len);
            NDArray hidden = model.forward(idArray, m.create(mask).reshape(seqs.size(), len), Taps.NONE, null);
            float[] batched = model.logitsAt(hidden, range(0, (long) seqs.size() * len)).toFloatArray();
            for (int r = 0; r < seqs.size(); r++) {
                float[] alone = logitsOf(model, m, seqs.get(r));
                for (int i = 0; i < seqs.get(r).length; i++) {
                    for (int v = 0; v < vocab; v++) {
                        assertThat(batched[(r * len + offsets[r] + i) * vocab + v]).as("row %d pos %d", r, i)
                                .isCloseTo(alone[i * vocab + v], within(1e-4f));
                    }
                }
            }
        }
    }

    @Test
    void replacingEveryTapWithItsOwnCaptureChangesNothing() {
        LlamaModel model = TestModels.goldenModel("tiny-llama-tied", DataType.FLOAT32).model();
        try (NDManager m = model.manager().newSubManager()) {
            NDArray ids = m.create(PROMPT).reshape(1, PROMPT.length);
            Taps capture = Taps.capturing(Set.copyOf(model.tapNames()));
            float[] plain = model.logitsAt(model.forward(ids, m.ones(ids.getShape()), capture, null),
                    range(0, PROMPT.length)).toFloatArray();
            for (String tap : model.tapNames()) {
                Taps replace = Taps.capturing(Set.of()).replace(tap, capture.captured(tap).duplicate());
                float[] replaced = model.logitsAt(model.forward(ids, m.ones(ids.getShape()), replace, null),
                        range(0, PROMPT.length)).toFloatArray();
                assertThat(replaced).as(tap).containsExactly(plain, within(1e-6f));
            }
        }
    }

    /**
     * A layer none of whose taps is touched runs as one fused native call; capturing every tap forces
     * every layer through the step-by-step forward. Both must give the same numbers: a left-padded
     * batch, its KV cache, then two cached steps.
     */
    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT64", "FLOAT32", "BFLOAT16"})
    void fusedLayersEqualStepByStepLayers(DataType dtype) {
        LlamaModel model = TestModels.goldenModel("tiny-llama-sharded", dtype).model();
        long[] ids = {0, 0, 1, 17, 300, 1, 42, 999, 5, 8};
        long[] mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
        try (NDManager m = model.manager().newSubManager()) {
            KvCache fusedCache = new KvCache(model.config().numLayers());
            KvCache stepCache = new KvCache(model.config().numLayers());
            for (int step = 0; step < 3; step++) {
                long[] stepIds = step == 0 ? ids : new long[] {100 + step, 200 + step};
                long[] stepMask = step == 0 ? mask : new long[] {1, 1};
                int width = stepIds.length / 2;
                NDArray idArray = m.create(stepIds).reshape(2, width);
                NDArray maskArray = m.create(stepMask).reshape(2, width);
                Taps everyTap = Taps.capturing(Set.copyOf(model.tapNames()));
                double[] fused = model.logitsAt(model.forward(idArray, maskArray, Taps.NONE, fusedCache),
                        range(0, 2L * width)).toType(DataType.FLOAT64, false).toDoubleArray();
                double[] stepByStep = model.logitsAt(model.forward(idArray, maskArray, everyTap, stepCache),
                        range(0, 2L * width)).toType(DataType.FLOAT64, false).toDoubleArray();
                assertThat(fused).hasSameSizeAs(stepByStep);
                double maxDiff = 0;
                for (int i = 0; i < fused.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(fused[i] - stepByStep[i]));
                }
                assertThat(maxDiff).as("%s step %d: largest logit difference", dtype, step).isLessThanOrEqualTo(1e-6);
            }
        }
    }

    @Test
    void gradientThroughAReplacedTapMatchesCentralFiniteDifferences() {
        LlamaModel model = TestModels.goldenModel("tiny-llama-tied", DataType.FLOAT64).model();
        String tap = "model.layers.0.self_attn.v_proj";
        long target = 77;
        try (NDManager m = model.manager().newSubManager()) {
            NDArray ids = m.create(PROMPT).reshape(1, PROMPT.length);
            NDArray mask = m.ones(ids.getShape());
            Taps capture = Taps.capturing(Set.of(tap));
            model.forward(ids, mask, capture, null);
            NDArray x = capture.captured(tap);
            double[] base = x.toDoubleArray();

            NDArray leaf = Autograd.leaf(x);
            double[] grad = Autograd.withGrad(() -> {
                NDArray hidden = model.forward(ids, mask, Taps.capturing(Set.of()).replace(tap, leaf), null);
                Autograd.backward(model.logProbsAt(hidden, new long[] {PROMPT.length - 1}, new long[] {target}).sum(),
                        false);
                return Autograd.gradient(leaf).toDoubleArray();
            });

            Random random = new Random(7);
            double h = 1e-5;
            for (int trial = 0; trial < 12; trial++) {
                int i = random.nextInt(base.length);
                double[] plus = base.clone();
                double[] minus = base.clone();
                plus[i] += h;
                minus[i] -= h;
                double fd = (logProb(model, m, ids, mask, tap, plus, x, target)
                        - logProb(model, m, ids, mask, tap, minus, x, target)) / (2 * h);
                assertThat(grad[i]).as("d logp / d %s[%d]", tap, i).isCloseTo(fd, within(1e-7 + 1e-6 * Math.abs(fd)));
            }
        }
    }

    private static double logProb(LlamaModel model, NDManager m, NDArray ids, NDArray mask, String tap,
            double[] value, NDArray like, long target) {
        NDArray replacement = m.create(value, like.getShape());
        NDArray hidden = model.forward(ids, mask, Taps.capturing(Set.of()).replace(tap, replacement), null);
        return model.logProbsAt(hidden, new long[] {PROMPT.length - 1}, new long[] {target}).getDouble(0);
    }

    @Test
    void globsSelectTapsAndUnknownNamesListTheValidOnes() {
        LlamaModel model = TestModels.goldenModel("tiny-llama-sharded", DataType.FLOAT32).model();
        assertThat(model.resolveTaps("model.layers.*.self_attn.q_proj")).containsExactly(
                "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj", "model.layers.2.self_attn.q_proj");
        assertThat(model.resolveTaps("model.layers.1")).containsExactly("model.layers.1");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.resolveTaps("model.layers.7.mlp"))
                .hasMessageContaining("unknown layer 'model.layers.7.mlp'")
                .hasMessageContaining("model.embed_tokens")
                .hasMessageContaining(".self_attn.q_proj");
    }

    /** A star matches within one dotted component; any glob takes time linear-ish in its length. */
    @Test
    void globsMatchWithinAComponentAndLongOnesCostLittle() {
        assertThat(LlamaModel.globMatches("model.layers.*.mlp", "model.layers.12.mlp")).isTrue();
        assertThat(LlamaModel.globMatches("model.layers.*", "model.layers.12.mlp")).isFalse();
        assertThat(LlamaModel.globMatches("model.*.*.self_attn.*_proj", "model.layers.3.self_attn.q_proj")).isTrue();
        assertThat(LlamaModel.globMatches("model.layers.1*", "model.layers.12")).isTrue();
        assertThat(LlamaModel.globMatches("model.layers.1*", "model.layers.21")).isFalse();
        assertThat(LlamaModel.globMatches("m*l.l*s.*2.**", "model.layers.12.mlp")).isTrue();
        assertThat(LlamaModel.globMatches("*", "model")).isTrue();
        assertThat(LlamaModel.globMatches("model.layers.0.mlp", "model.layers.0.mlpx")).isFalse();
        LlamaModel model = TestModels.goldenModel("tiny-llama-sharded", DataType.FLOAT32).model();
        long start = System.nanoTime();
        for (String glob : List.of("q".repeat(200_000), "*a".repeat(100_000) + "b", "model.layers." + "*".repeat(200_000) + "x")) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.resolveTaps(glob))
                    .hasMessageContaining("unknown layer");
        }
        assertThat((System.nanoTime() - start) / 1e9).as("seconds for three 200,000-character globs").isLessThan(2.0);
    }
}
