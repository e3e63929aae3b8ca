package org.llmattrib.attribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.llmattrib.attribution.gradient.IntegrationRule;
import org.llmattrib.attribution.gradient.LayerGradientEngine;
import org.llmattrib.attribution.gradient.LayerIntegratedGradients;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.attribution.perturbation.FeatureAblation;
import org.llmattrib.attribution.perturbation.PerturbationMethod;
import org.llmattrib.attribution.perturbation.PerturbationRunner;
import org.llmattrib.attribution.perturbation.PerturbedScorer;
import org.llmattrib.attribution.perturbation.ShapleyValues;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Attributions against the independent fp64 reference in golden/expected.json. */
class GoldenAttributionTest {
    private static final Quantity LOG_PROB = new Quantity.LogProb();

    private static TokenFeatures features(long[] prompt, long baseline) {
        return features(prompt, baseline, Set.of(1L));
    }

    private static TokenFeatures features(long[] prompt, long baseline, Set<Long> skip) {
        String[] texts = new String[prompt.length];
        for (int i = 0; i < prompt.length; i++) {
            texts[i] = "#" + prompt[i];
        }
        return new TokenFeatures(prompt, texts, skip, baseline);
    }

    static double[][] tokenAttr(Llama llama, JsonNode golden, PerturbationMethod method, int batchRows) {
        return tokenAttr(llama, golden, method, batchRows, Set.of(1L));
    }

    private static double[][] tokenAttr(Llama llama, JsonNode golden, PerturbationMethod method, int batchRows,
            Set<Long> skip) {
        return tokenAttr(llama, golden, method, batchRows, skip, LOG_PROB);
    }

    private static double[][] tokenAttr(Llama llama, JsonNode golden, PerturbationMethod method, int batchRows,
            Set<Long> skip, Quantity quantity) {
        long[] prompt = TestModels.ids(golden.path("prompt_ids"));
        long[] target = TestModels.ids(golden.path("target_ids"));
        double[][] out = new double[target.length][];
        Work work = new Work(llama.model());
        try (NDManager m = llama.model().manager().newSubManager()) {
            new PerturbationRunner(new PerturbedScorer(new ForwardBatcher(llama.model()), batchRows, work, () -> {}))
                    .run(features(prompt, golden.path("baseline_token_id").asLong(), skip), target, method, 1, quantity,
                            new Random(0), m, (t, logProb, attr) -> out[t] = attr);
        }
        return out;
    }

    private static void assertMatches(double[][] actual, JsonNode expected) {
        for (int t = 0; t < actual.length; t++) {
            for (int f = 0; f < actual[t].length; f++) {
                assertThat(actual[t][f]).as("token %d feature %d", t, f)
                        .isCloseTo(expected.get(t).get(f).asDouble(), within(1e-4));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void featureAblationMatchesTheReference(String name) {
        JsonNode golden = TestModels.expected().path(name).path("attribution");
        Llama llama = TestModels.goldenModel(name, DataType.FLOAT32);
        assertMatches(tokenAttr(llama, golden, new FeatureAblation(), 64), golden.path("feature_ablation").path("token_attr"));
        // batching and prefix sharing change nothing: one prompt per batch gives the same numbers
        assertMatches(tokenAttr(llama, golden, new FeatureAblation(), 1), golden.path("feature_ablation").path("token_attr"));
    }

    /**
     * Captum's {@code skip_tokens=[]}: BOS is a feature too, so no token prefix is shared by the
     * perturbed prompts. Reference: the fp64 model scoring each ablated prompt directly, one by one;
     * the other features must still equal the golden numbers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void featureAblationWithBosAsAFeatureMatchesTheFp64Path(String name) {
        JsonNode golden = TestModels.expected().path(name).path("attribution");
        long[] prompt = TestModels.ids(golden.path("prompt_ids"));
        long[] target = TestModels.ids(golden.path("target_ids"));
        long baseline = golden.path("baseline_token_id").asLong();
        Llama fp64 = TestModels.goldenModel(name, DataType.FLOAT64);
        double[] full = fp64.score(prompt, target);
        double[][] expected = new double[target.length][prompt.length];
        for (int f = 0; f < prompt.length; f++) {
            long[] ablated = prompt.clone();
            ablated[f] = baseline;
            double[] lp = fp64.score(ablated, target);
            for (int t = 0; t < target.length; t++) {
                expected[t][f] = full[t] - lp[t];
            }
        }
        Llama llama = TestModels.goldenModel(name, DataType.FLOAT32);
        for (int batchRows : new int[] {64, 2}) {
            double[][] actual = tokenAttr(llama, golden, new FeatureAblation(), batchRows, Set.of());
            for (int t = 0; t < target.length; t++) {
                assertThat(actual[t]).hasSize(prompt.length);
                for (int f = 0; f < prompt.length; f++) {
                    assertThat(actual[t][f]).as("batch %d token %d feature %d", batchRows, t, f)
                            .isCloseTo(expected[t][f], within(1e-4));
                }
                assertThat(actual[t][0]).as("ablating BOS changes the log-prob").isNotCloseTo(0.0, within(1e-3));
                for (int f = 1; f < prompt.length; f++) {
                    assertThat(actual[t][f]).isCloseTo(golden.path("feature_ablation").path("token_attr").get(t)
                            .get(f - 1).asDouble(), within(1e-4));
                }
            }
        }
    }

    /**
     * Contrastive feature ablation, log p(t_k) - log p(c_k) with the same teacher-forced prefix:
     * against the fp64 model scoring each ablated prompt directly, and, FA being linear in the
     * quantity, equal to the golden log-prob attributions minus the contrast's own.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void contrastiveFeatureAblationMatchesTheFp64Path(String name) {
        JsonNode golden = TestModels.expected().path(name).path("attribution");
        long[] prompt = TestModels.ids(golden.path("prompt_ids"));
        long[] target = TestModels.ids(golden.path("target_ids"));
        long baseline = golden.path("baseline_token_id").asLong();
        Llama fp64 = TestModels.goldenModel(name, DataType.FLOAT64);
        Llama llama = TestModels.goldenModel(name, DataType.FLOAT32);
        for (long[] contrast : new long[][] {{640, 5, 77}, {999}}) {
            double[][] actual = tokenAttr(llama, golden, new FeatureAblation(), 64, Set.of(1L),
                    new Quantity.Contrast(contrast));
            for (int t = 0; t < target.length; t++) {
                long[] prefixAndContrast = java.util.Arrays.copyOf(target, t + 1);
                prefixAndContrast[t] = contrast[contrast.length == 1 ? 0 : t];
                double full = fp64.score(prompt, target)[t] - fp64.score(prompt, prefixAndContrast)[t];
                for (int f = 1; f < prompt.length; f++) {
                    long[] ablated = prompt.clone();
                    ablated[f] = baseline;
                    double expected = full - (fp64.score(ablated, target)[t] - fp64.score(ablated, prefixAndContrast)[t]);
                    double contrastOnly = fp64.score(prompt, prefixAndContrast)[t] - fp64.score(ablated, prefixAndContrast)[t];
                    assertThat(actual[t][f - 1]).as("token %d feature %d", t, f).isCloseTo(expected, within(1e-4))
                            .isCloseTo(golden.path("feature_ablation").path("token_attr").get(t).get(f - 1).asDouble()
                                    - contrastOnly, within(1e-4));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void exactShapleyValuesMatchTheReference(String name) {
        JsonNode golden = TestModels.expected().path(name).path("attribution");
        Llama llama = TestModels.goldenModel(name, DataType.FLOAT32);
        assertMatches(tokenAttr(llama, golden, new ShapleyValues(10), 7), golden.path("shapley_values").path("token_attr"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void integratedGradientsEndpointsAndCompletenessPerLayer(String name) {
        JsonNode golden = TestModels.expected().path(name).path("attribution");
        List<LayerGradientEngine.PositionAttribution> results = integratedGradients(
                TestModels.goldenModel(name, DataType.FLOAT32), golden);
        assertThat(results).hasSize(golden.path("target_ids").size());
        JsonNode endpoints = golden.path("integrated_gradients_endpoints");
        for (Iterator<Map.Entry<String, JsonNode>> it = endpoints.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> layer = it.next();
            for (LayerGradientEngine.PositionAttribution r : results) {
                JobListener.IgCheck check = r.checks().get(layer.getKey());
                double fIn = layer.getValue().path("f_input").get(r.index()).asDouble();
                double fBase = layer.getValue().path("f_baseline").get(r.index()).asDouble();
                assertThat(check.fInput()).as("%s f_input[%d]", layer.getKey(), r.index()).isCloseTo(fIn, within(1e-4));
                assertThat(check.fBaseline()).as("%s f_baseline[%d]", layer.getKey(), r.index()).isCloseTo(fBase, within(1e-4));
                assertThat(Math.abs(check.delta())).as("%s completeness error, token %d", layer.getKey(), r.index())
                        .isLessThan(0.01 * Math.abs(fIn - fBase));
            }
        }
    }

    /** Layer IG (Gauss-Legendre, 50 steps) of each golden endpoint layer on its own path, per target token. */
    static List<LayerGradientEngine.PositionAttribution> integratedGradients(Llama llama, JsonNode golden) {
        long[] prompt = TestModels.ids(golden.path("prompt_ids"));
        long[] target = TestModels.ids(golden.path("target_ids"));
        long[] baselinePrompt = features(prompt, 0).render(new boolean[prompt.length - 1], null);
        List<List<String>> groups = new ArrayList<>();
        golden.path("integrated_gradients_endpoints").fieldNames()
                .forEachRemaining(layer -> groups.add(List.of(layer)));
        List<LayerGradientEngine.PositionAttribution> results = new ArrayList<>();
        try (NDManager m = llama.model().manager().newSubManager()) {
            new LayerGradientEngine(llama.model(), new Work(llama.model()), () -> {}).run(prompt, baselinePrompt,
                    target, groups, new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 50), LOG_PROB, 64, 0,
                    m, results::add);
        }
        return results;
    }
}
