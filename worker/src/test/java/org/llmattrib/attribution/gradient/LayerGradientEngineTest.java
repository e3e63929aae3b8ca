package org.llmattrib.attribution.gradient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Quantity;
import org.llmattrib.attribution.Work;
import org.llmattrib.llama.Djl;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.LlamaModel;

/** Path rows forwarded from their tapped decoder layer give what the full forward gives. */
class LayerGradientEngineTest {
    private static final LlamaConfig CONFIG = new LlamaConfig(300, 32, 64, 4, 4, 2, 8, 1e-5, 10000.0, null, false, 1,
            List.of(2));
    private static final LlamaModel MODEL = randomModel();
    private static final long[] PROMPT = {1, 17, 250, 42, 99, 5, 77};
    private static final long[] BASELINE = {1, 0, 0, 0, 0, 0, 0};
    private static final long[] TARGET = {12, 290, 3};
    /** Taps in every decoder layer, at a layer's input and output and at the model's ends. */
    private static final List<String> TAPS = List.of("model.norm", "model.layers.2.self_attn.v_proj",
            "model.layers.1", "model.embed_tokens", "model.layers.0.self_attn.q_proj", "model.layers.1.mlp",
            "model.layers.2.post_attention_layernorm", "model.layers.3.mlp.down_proj", "model.layers.0.mlp");

    /** Small random weights in float64, drawn in Java so that they do not depend on the engine's generator. */
    private static LlamaModel randomModel() {
        Djl.configure();
        Random random = new Random(7);
        return new LlamaModel(CONFIG, (name, m, shape) -> {
            double[] values = new double[(int) new Shape(shape).size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = name.endsWith("norm.weight") ? 1 + 0.1 * random.nextGaussian()
                        : random.nextGaussian() / Math.sqrt(shape[shape.length - 1]);
            }
            return m.create(values, new Shape(shape));
        }, NDManager.newBaseManager(Djl.device("cpu"), "PyTorch"), DataType.FLOAT64);
    }

    @AfterAll
    static void close() {
        MODEL.close();
    }

    @Test
    void startLayersFollowTheTapsPlaceInTheForward() {
        assertThat(TAPS.stream().map(tap -> LlamaModel.firstLayerReading(tap, CONFIG)).toList())
                .containsExactly(4, 2, 2, 0, 0, 1, 2, 3, 0);
        assertThat(LayerGradientEngine.startLayer(TAPS.subList(0, 3), CONFIG)).isEqualTo(2);
        assertThat(MODEL.streamInto(0)).isEqualTo("model.embed_tokens");
        assertThat(MODEL.streamInto(4)).isEqualTo("model.layers.3");
        List<List<String>> groups = Stream.of("model.layers.2.self_attn.v_proj", "model.embed_tokens",
                "model.layers.3.mlp", "model.layers.0.mlp").map(List::of).toList();
        // in batch order the groups start at layers 0, 0, 2, 3; 3 samples each, 4 rows a batch
        assertThat(LayerGradientEngine.batches(LayerGradientEngine.batchOrder(groups, CONFIG, false), 3, 4, CONFIG))
                .containsExactly(new LayerGradientEngine.Batch(0, 4, 0), new LayerGradientEngine.Batch(4, 8, 0),
                        new LayerGradientEngine.Batch(8, 12, 2));
        // at full depth as given (2, 0, 3, 0): every batch has a row whose tap is below layer 1
        assertThat(LayerGradientEngine.batches(LayerGradientEngine.batchOrder(groups, CONFIG, true), 3, 4, CONFIG))
                .extracting(LayerGradientEngine.Batch::startLayer).containsExactly(0, 0, 0);
    }

    @Test
    void independentAndJointPathsFromTheTappedLayerEqualTheFullForward() {
        for (List<List<String>> groups : List.of(TAPS.stream().map(List::of).toList(), List.of(TAPS),
                List.of(TAPS.subList(0, 3)))) {
            Work fromTap = new Work(MODEL);
            Work full = new Work(MODEL);
            List<LayerGradientEngine.PositionAttribution> expected = attributions(groups, true, full);
            List<LayerGradientEngine.PositionAttribution> actual = attributions(groups, false, fromTap);
            assertThat(actual).hasSameSizeAs(expected);
            for (int t = 0; t < expected.size(); t++) {
                for (String tap : groups.stream().flatMap(List::stream).toList()) {
                    double[] want = expected.get(t).positionSums().get(tap);
                    double[] got = actual.get(t).positionSums().get(tap);
                    for (int p = 0; p < want.length; p++) {
                        assertThat(got[p]).as("%s token %d position %d", tap, t, p).isCloseTo(want[p], within(1e-10));
                    }
                }
                var checks = actual.get(t).checks();
                assertThat(checks.keySet()).containsExactlyElementsOf(expected.get(t).checks().keySet());
                expected.get(t).checks().forEach((label, check) -> assertThat(checks.get(label).fBaseline())
                        .as("f(baseline) of %s", label).isCloseTo(check.fBaseline(), within(1e-10)));
            }
            assertThat(fromTap.toMap().get("rows")).isEqualTo(full.toMap().get("rows"));
            long flops = fromTap.toMap().get("flops").longValue();
            long fullFlops = full.toMap().get("flops").longValue();
            // only a joint path through the embeddings runs every layer
            if (groups.size() == 1 && groups.get(0).contains("model.embed_tokens")) {
                assertThat(flops).isEqualTo(fullFlops);
            } else {
                assertThat(flops).isLessThan(fullFlops);
            }
        }
    }

    @Test
    void aTargetTokensArraysAreFreedOnceItIsReportedSoAJobsMemoryDoesNotGrowWithItsTarget() {
        long[] target = {12, 290, 3, 40, 41, 42};
        List<Integer> arraysAtEachToken = new ArrayList<>();
        try (NDManager m = MODEL.manager().newSubManager()) {
            new LayerGradientEngine(MODEL, new Work(MODEL), () -> {}).run(PROMPT, BASELINE, target,
                    TAPS.stream().map(List::of).toList(), new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 4),
                    new Quantity.LogProb(), 8, 0, m, token -> arraysAtEachToken.add(m.getManagedArrays().size()));
        }
        assertThat(arraysAtEachToken).hasSize(target.length).allMatch(n -> n.equals(arraysAtEachToken.get(0)));
    }

    private static List<LayerGradientEngine.PositionAttribution> attributions(List<List<String>> groups, boolean fullDepth,
            Work work) {
        List<LayerGradientEngine.PositionAttribution> out = new ArrayList<>();
        try (NDManager m = MODEL.manager().newSubManager()) {
            // 7 rows a batch over 6-step paths: batches split groups and mix start layers
            new LayerGradientEngine(MODEL, work, () -> {}, fullDepth).run(PROMPT, BASELINE, TARGET, groups,
                    new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 6), new Quantity.LogProb(), 7, 0, m,
                    out::add);
        }
        return out;
    }
}
