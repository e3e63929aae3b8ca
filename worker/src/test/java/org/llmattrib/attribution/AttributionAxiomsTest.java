package org.llmattrib.attribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.llmattrib.attribution.gradient.GradientMethod;
import org.llmattrib.attribution.gradient.IntegrationRule;
import org.llmattrib.attribution.gradient.LayerGradientEngine;
import org.llmattrib.attribution.gradient.LayerGradientXActivation;
import org.llmattrib.attribution.gradient.LayerIntegratedGradients;
import org.llmattrib.attribution.input.Baselines;
import org.llmattrib.attribution.input.PromptFeatures;
import org.llmattrib.attribution.input.TextFeatures;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.attribution.perturbation.FeatureAblation;
import org.llmattrib.attribution.perturbation.KernelShap;
import org.llmattrib.attribution.perturbation.Lime;
import org.llmattrib.attribution.perturbation.PerturbationMethod;
import org.llmattrib.attribution.perturbation.PerturbationRunner;
import org.llmattrib.attribution.perturbation.PerturbedScorer;
import org.llmattrib.attribution.perturbation.ShapleyValueSampling;
import org.llmattrib.attribution.perturbation.ShapleyValues;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.llama.TestModels;
import org.junit.jupiter.api.Test;

/** Properties every attribution must satisfy, on our own tiny Llama 3-vocabulary checkpoint. */
class AttributionAxiomsTest {
    private static final Quantity LOG_PROB = new Quantity.LogProb();
    private static final long[] TARGET = {1, 17, 300};

    private static Llama llama() {
        return TestModels.goldenModel("tiny-llama-sharded", DataType.FLOAT32);
    }

    private static TokenFeatures tokens() {
        long[] prompt = {1, 17, 300, 42, 999, 5, 77};
        String[] texts = new String[prompt.length];
        java.util.Arrays.fill(texts, "t");
        return new TokenFeatures(prompt, texts, Set.of(1L), 0);
    }

    /** [token][value] attributions, and the sequence attribution as the last row. */
    private static double[][] run(PromptFeatures features, PerturbationMethod method, int trials, Quantity quantity) {
        return run(llama(), features, method, trials, quantity);
    }

    private static double[][] run(Llama llama, PromptFeatures features, PerturbationMethod method, int trials,
            Quantity quantity) {
        double[][] out = new double[TARGET.length + 1][];
        try (NDManager m = llama.model().manager().newSubManager()) {
            out[TARGET.length] = new PerturbationRunner(new PerturbedScorer(new ForwardBatcher(llama.model()), 16, new Work(llama.model()),
                    () -> {})).run(features, TARGET, method, trials, quantity, new Random(1), m,
                    (t, logProb, attr) -> out[t] = attr);
        }
        return out;
    }

    private static double f(PromptFeatures features, boolean[] present, int token) {
        return llama().score(features.render(present, null), TARGET)[token];
    }

    @Test
    void shapleyValuesAreEfficient() {
        TokenFeatures features = tokens();
        int n = features.featureCount();
        double[][] attr = run(features, new ShapleyValues(10), 1, LOG_PROB);
        for (int t = 0; t < TARGET.length; t++) {
            double expected = f(features, PerturbationMethod.all(n, true), t) - f(features, new boolean[n], t);
            assertThat(java.util.Arrays.stream(attr[t]).sum()).as("token %d", t).isCloseTo(expected, within(1e-4));
        }
        // sequence attribution of log_prob is the sum of the token attributions (Captum asserts this)
        for (int f = 0; f < n; f++) {
            assertThat(attr[TARGET.length][f]).isCloseTo(attr[0][f] + attr[1][f] + attr[2][f], within(1e-9));
        }
    }

    @Test
    void sampledShapleyAndKernelShapAreEfficientToo() {
        TokenFeatures features = tokens();
        int n = features.featureCount();
        double full = f(features, PerturbationMethod.all(n, true), 1);
        double none = f(features, new boolean[n], 1);
        // every sampled order telescopes from f(none) to f(all)
        assertThat(java.util.Arrays.stream(run(features, new ShapleyValueSampling(5), 1, LOG_PROB)[1]).sum())
                .isCloseTo(full - none, within(1e-4));
        // KernelShap's 1e6 weights on the full and empty coalitions pin efficiency
        assertThat(java.util.Arrays.stream(run(features, new KernelShap(40), 1, LOG_PROB)[1]).sum())
                .isCloseTo(full - none, within(1e-3));
    }

    @Test
    void exactShapleyRefusesTooManyFeatures() {
        assertThatThrownBy(() -> new ShapleyValues(4).plan(5, new Random()))
                .isInstanceOf(RequestException.class)
                .hasMessageContaining("method.max_features = 4")
                .extracting(e -> ((RequestException) e).field()).isEqualTo("method.max_features");
    }

    @Test
    void featureAblationGivesZeroToAFeatureTheModelCannotSee() {
        // value 1 never reaches the prompt text: whatever it is replaced by, the prompt is the same
        TextFeatures features = new TextFeatures(List.of("a", "hidden", "c"), new Baselines.Fixed(List.of("x", "y", "z")),
                new int[] {0, 1, 2}, values -> values.get(0) + " " + values.get(2),
                text -> new long[] {1, 10 + text.charAt(0), 20 + text.charAt(text.length() - 1)});
        double[][] attr = run(features, new FeatureAblation(), 1, LOG_PROB);
        for (double[] row : attr) {
            assertThat(row[1]).isEqualTo(0.0);
            assertThat(row[0]).isNotEqualTo(0.0);
        }
    }

    @Test
    void batchedIncrementalScoringEqualsOneTeacherForcedForwardPerPrompt() {
        // different prompt lengths (left padding inside the batch), a shared prefix, and a duplicate prompt
        List<long[]> prompts = List.of(new long[] {1, 17, 300, 42}, new long[] {1, 17, 5}, new long[] {1, 17, 300, 42},
                new long[] {1, 17, 9, 8, 7, 6});
        Llama llama = llama();
        double[][] incremental = new double[TARGET.length][];
        try (NDManager m = llama.model().manager().newSubManager()) {
            new PerturbedScorer(new ForwardBatcher(llama.model()), 3, new Work(llama.model()), () -> {})
                    .score(prompts, TARGET, new Quantity.LogProb(), m, (t, values, lp) -> incremental[t] = lp);
        }
        for (int i = 0; i < prompts.size(); i++) {
            double[] direct = llama.score(prompts.get(i), TARGET);
            for (int t = 0; t < TARGET.length; t++) {
                assertThat(incremental[t][i]).as("prompt %d token %d", i, t).isCloseTo(direct[t], within(1e-4));
            }
        }
    }

    @Test
    void aBatchWithNoSharedPrefixEqualsItsRowsOneByOne() {
        // the first token differs between prompts (BOS ablated), so there is no prefix cache to start from
        List<long[]> prompts = List.of(new long[] {1, 17, 300, 42}, new long[] {0, 17, 300, 42}, new long[] {5, 9},
                new long[] {0, 17, 300, 42}, new long[] {77, 1, 17, 300, 42, 999});
        Llama llama = llama();
        for (int batchRows : new int[] {1, 2, 16}) {
            double[][] incremental = new double[TARGET.length][];
            try (NDManager m = llama.model().manager().newSubManager()) {
                new PerturbedScorer(new ForwardBatcher(llama.model()), batchRows, new Work(llama.model()), () -> {})
                        .score(prompts, TARGET, new Quantity.LogProb(), m, (t, values, lp) -> incremental[t] = lp);
            }
            for (int i = 0; i < prompts.size(); i++) {
                double[] direct = llama.score(prompts.get(i), TARGET);
                for (int t = 0; t < TARGET.length; t++) {
                    assertThat(incremental[t][i]).as("batch %d prompt %d token %d", batchRows, i, t)
                            .isCloseTo(direct[t], within(1e-4));
                }
            }
        }
    }

    @Test
    void everyPerturbationMethodWorksWithBosAsAFeatureAndStaysEfficient() {
        long[] prompt = {1, 17, 300, 42, 999, 5, 77};
        String[] texts = new String[prompt.length];
        java.util.Arrays.fill(texts, "t");
        TokenFeatures features = new TokenFeatures(prompt, texts, Set.of(), 0);
        int n = features.featureCount();
        assertThat(n).isEqualTo(prompt.length);
        double full = f(features, PerturbationMethod.all(n, true), 2);
        double none = f(features, new boolean[n], 2);
        assertThat(java.util.Arrays.stream(run(features, new ShapleyValues(10), 1, LOG_PROB)[2]).sum())
                .isCloseTo(full - none, within(1e-4));
        assertThat(java.util.Arrays.stream(run(features, new ShapleyValueSampling(3), 1, LOG_PROB)[2]).sum())
                .isCloseTo(full - none, within(1e-4));
        assertThat(java.util.Arrays.stream(run(features, new KernelShap(40), 1, LOG_PROB)[2]).sum())
                .isCloseTo(full - none, within(1e-3));
        assertThat(run(features, new Lime(40), 1, LOG_PROB)[2]).hasSize(n).doesNotContain(Double.NaN);
        assertThat(run(features, new FeatureAblation(), 1, LOG_PROB)[2][0]).isNotCloseTo(0.0, within(1e-6));
    }

    @Test
    void templateMaskSharesAttributionsAndProductBaselinesAreSeeded() {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        LlamaTokenizer tok = llama.requireTokenizer();
        List<String> names = List.of("name", "city", "state");
        Baselines.Product product = new Baselines.Product(3, List.of(
                new Baselines.Product.Group(new int[] {0}, List.of(List.of("Sarah"), List.of("John"))),
                new Baselines.Product.Group(new int[] {1, 2}, List.of(List.of("Seattle", "WA"), List.of("Boston", "MA")))));
        TextFeatures features = new TextFeatures(List.of("Dave", "Palm Coast", "FL"), product, new int[] {0, 1, 1},
                org.llmattrib.attribution.input.Templates.renderer("{name} lives in {city}, {state}.", names),
                text -> tok.encodePrompt(text).ids());
        assertThat(features.featureCount()).isEqualTo(2);
        assertThat(features.text(new boolean[] {true, false}, new Random(3))).matches("Dave lives in (Seattle, WA|Boston, MA)\\.");
        double[][] a = run(llama, features, new FeatureAblation(), 3, LOG_PROB);
        double[][] b = run(llama, features, new FeatureAblation(), 3, LOG_PROB);
        for (int t = 0; t < a.length; t++) {
            assertThat(a[t][1]).isEqualTo(a[t][2]);
            assertThat(a[t]).containsExactly(b[t]);
        }
    }

    private static List<LayerGradientEngine.PositionAttribution> gradients(List<List<String>> groups, GradientMethod method) {
        return gradients(groups, method, LOG_PROB);
    }

    private static List<LayerGradientEngine.PositionAttribution> gradients(List<List<String>> groups, GradientMethod method,
            Quantity quantity) {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        LlamaTokenizer tok = llama.requireTokenizer();
        LlamaTokenizer.Tokens promptTokens = tok.encodePrompt("Dave lives in Palm Coast, FL and is a lawyer.");
        long[] prompt = promptTokens.ids();
        TokenFeatures features = new TokenFeatures(prompt, promptTokens.tokens(), Set.of(128000L), 0);
        long[] baseline = features.render(new boolean[features.featureCount()], null);
        long[] target = tok.encodePlain(" He likes golf").ids();
        List<LayerGradientEngine.PositionAttribution> out = new ArrayList<>();
        try (NDManager m = llama.model().manager().newSubManager()) {
            new LayerGradientEngine(llama.model(), new Work(llama.model()), () -> {}).run(prompt, baseline, target,
                    groups, method, quantity, 40, 0, m, out::add);
        }
        return out;
    }

    @Test
    void independentIntegratedGradientsAreCompleteForEveryLayerOfTheSeedSet() {
        List<String> layers = llama3Layers();
        List<List<String>> groups = layers.stream().map(List::of).toList();
        for (LayerGradientEngine.PositionAttribution token : gradients(groups,
                new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 50))) {
            for (String layer : layers) {
                JobListener.IgCheck check = token.checks().get(layer);
                assertThat(Math.abs(check.delta())).as("%s token %d: %s", layer, token.index(), check)
                        .isLessThan(0.01 * Math.abs(check.fInput() - check.fBaseline()) + 1e-6);
            }
        }
    }

    @Test
    void contrastiveIntegratedGradientsAreCompleteAndReportTheTargetsLogProb() {
        // " He likes golf" against " She hates tennis" token by token, and against one token everywhere
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        long[] contrast = llama.requireTokenizer().encodePlain(" She hates tennis").ids();
        List<String> layers = List.of("model.embed_tokens", "model.layers.0.mlp");
        List<LayerGradientEngine.PositionAttribution> plain = gradients(List.of(List.of("model.embed_tokens")),
                new LayerGradientXActivation());
        for (Quantity q : List.of(new Quantity.Contrast(contrast), new Quantity.Contrast(new long[] {contrast[2]}))) {
            List<LayerGradientEngine.PositionAttribution> contrastive = gradients(layers.stream().map(List::of).toList(),
                    new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 50), q);
            for (LayerGradientEngine.PositionAttribution token : contrastive) {
                LayerGradientEngine.PositionAttribution same = plain.get(token.index());
                assertThat(token.logProb()).isCloseTo(same.fInput(), within(1e-5));
                assertThat(token.fInput()).as("log p(t) - log p(c) is not log p(t)").isNotCloseTo(token.logProb(), within(1e-3));
                for (String layer : layers) {
                    JobListener.IgCheck check = token.checks().get(layer);
                    assertThat(Math.abs(check.delta())).as("%s token %d", layer, token.index())
                            .isLessThan(0.01 * Math.abs(check.fInput() - check.fBaseline()) + 1e-6);
                }
            }
        }
    }

    @Test
    void contrastiveShapleyIsEfficientForTheDifference() {
        TokenFeatures features = tokens();
        int n = features.featureCount();
        long[] contrast = {5, 640, 9};
        Quantity q = new Quantity.Contrast(contrast);
        Llama llama = llama();
        double[][] attr = run(features, new ShapleyValues(10), 1, q);
        double[][] kernel = run(features, new KernelShap(60), 1, q);
        for (int t = 0; t < TARGET.length; t++) {
            long[] withContrast = java.util.Arrays.copyOf(TARGET, t + 1);
            withContrast[t] = contrast[t];
            double full = f(features, PerturbationMethod.all(n, true), t)
                    - llama.score(features.render(PerturbationMethod.all(n, true), null), withContrast)[t];
            double none = f(features, new boolean[n], t) - llama.score(features.render(new boolean[n], null), withContrast)[t];
            assertThat(java.util.Arrays.stream(attr[t]).sum()).as("token %d", t).isCloseTo(full - none, within(1e-4));
            assertThat(java.util.Arrays.stream(kernel[t]).sum()).as("token %d", t).isCloseTo(full - none, within(1e-3));
        }
        // the sequence quantity is the sum of per-token contrasts, so seq_attr is the column sum
        for (int f = 0; f < n; f++) {
            assertThat(attr[TARGET.length][f]).isCloseTo(attr[0][f] + attr[1][f] + attr[2][f], within(1e-9));
        }
        assertThat(run(features, new Lime(40), 1, q)[1]).hasSize(n).doesNotContain(Double.NaN);
    }

    @Test
    void autoStepsDoubleUntilEveryPathIsWithinToleranceAndEqualTheFixedStepsTheyReport() {
        List<List<String>> groups = List.of(List.of("model.embed_tokens"), List.of("model.layers.0.mlp"));
        double tolerance = 0.002;
        List<LayerGradientEngine.PositionAttribution> auto = gradients(groups,
                new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 4, tolerance, 512));
        java.util.Map<Integer, List<LayerGradientEngine.PositionAttribution>> fixed = new java.util.HashMap<>();
        for (LayerGradientEngine.PositionAttribution token : auto) {
            int steps = token.checks().values().iterator().next().steps();
            assertThat(Integer.bitCount(steps)).as("a doubling of 4").isEqualTo(1);
            assertThat(steps).isBetween(4, 512);
            for (JobListener.IgCheck check : token.checks().values()) {
                assertThat(check.steps()).isEqualTo(steps);
                if (steps < 512) {
                    assertThat(Math.abs(check.delta())).as("token %d: %s", token.index(), check)
                            .isLessThanOrEqualTo(tolerance * Math.abs(check.fInput() - check.fBaseline()) + 1e-7);
                }
            }
            // the reported attribution is exactly the fixed-step one with that many steps
            LayerGradientEngine.PositionAttribution same = fixed.computeIfAbsent(steps, n -> gradients(groups,
                    new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, n))).get(token.index());
            for (String layer : List.of("model.embed_tokens", "model.layers.0.mlp")) {
                assertThat(token.positionSums().get(layer)).containsExactly(same.positionSums().get(layer), within(1e-9));
            }
        }
    }

    @Test
    void jointIntegratedGradientsAreCompleteOnlySummedOverLayers() {
        List<LayerGradientEngine.PositionAttribution> tokens = gradients(List.of(llama3Layers()),
                new LayerIntegratedGradients(IntegrationRule.RIEMANN_TRAPEZOID, 64));
        for (LayerGradientEngine.PositionAttribution token : tokens) {
            JobListener.IgCheck check = token.checks().get("joint");
            assertThat(Math.abs(check.delta())).isLessThan(0.01 * Math.abs(check.fInput() - check.fBaseline()) + 1e-6);
        }
    }

    @Test
    void gradientTimesActivationIsActivationTimesGradient() {
        List<LayerGradientEngine.PositionAttribution> tokens = gradients(List.of(List.of("model.embed_tokens")),
                new LayerGradientXActivation());
        assertThat(tokens).isNotEmpty();
        assertThat(tokens.get(0).checks()).isEmpty();
        assertThat(tokens.get(1).positionSums().get("model.embed_tokens")).hasSize(tokens.get(0)
                .positionSums().get("model.embed_tokens").length + 1);
    }

    @Test
    void theSameGradientJobTwiceGivesBitIdenticalNumbers() {
        // batches of 8 rows over 20-step paths: most batches mix two layers' paths
        List<List<String>> groups = llama3Layers().stream().map(List::of).toList();
        List<LayerGradientEngine.PositionAttribution> first = gradientsInBatches(groups, 8);
        for (int run = 0; run < 3; run++) {
            List<LayerGradientEngine.PositionAttribution> again = gradientsInBatches(groups, 8);
            for (int t = 0; t < first.size(); t++) {
                for (String layer : first.get(t).positionSums().keySet()) {
                    assertThat(again.get(t).positionSums().get(layer)).as("run %d token %d %s", run, t, layer)
                            .containsExactly(first.get(t).positionSums().get(layer));
                }
            }
        }
    }

    private static List<LayerGradientEngine.PositionAttribution> gradientsInBatches(List<List<String>> groups, int rows) {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        LlamaTokenizer tok = llama.requireTokenizer();
        long[] prompt = tok.encodePrompt("Dave lives in Palm Coast, FL and is a lawyer.").ids();
        TokenFeatures features = new TokenFeatures(prompt, tok.encodePrompt("Dave lives in Palm Coast, FL and is a lawyer.")
                .tokens(), Set.of(128000L), 0);
        List<LayerGradientEngine.PositionAttribution> out = new ArrayList<>();
        try (NDManager m = llama.model().manager().newSubManager()) {
            new LayerGradientEngine(llama.model(), new Work(llama.model()), () -> {}).run(prompt,
                    features.render(new boolean[features.featureCount()], null), tok.encodePlain(" He likes").ids(),
                    groups, new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 20), LOG_PROB, rows, 0, m, out::add);
        }
        return out;
    }

    @Test
    void gradientBatchesReleaseTheirArraysWhenTheyEnd() {
        // what stays in the job's manager must not depend on how many batches the paths took
        List<List<String>> groups = llama3Layers().stream().map(List::of).toList();
        assertThat(arraysLeftPerToken(groups, 8)).isEqualTo(arraysLeftPerToken(groups, 180));
    }

    private static List<Integer> arraysLeftPerToken(List<List<String>> groups, int rows) {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        LlamaTokenizer tok = llama.requireTokenizer();
        long[] prompt = tok.encodePrompt("Dave lives in Palm Coast").ids();
        long[] baseline = prompt.clone();
        java.util.Arrays.fill(baseline, 1, baseline.length, 0);
        List<Integer> counts = new ArrayList<>();
        try (NDManager m = llama.model().manager().newSubManager()) {
            new LayerGradientEngine(llama.model(), new Work(llama.model()), () -> {}).run(prompt, baseline,
                    tok.encodePlain(" He likes golf").ids(), groups,
                    new LayerIntegratedGradients(IntegrationRule.GAUSS_LEGENDRE, 20), LOG_PROB, rows, 0, m,
                    r -> counts.add(m.getManagedArrays().size()));
        }
        return counts;
    }

    private static List<String> llama3Layers() {
        var model = TestModels.tinyLlama3(DataType.FLOAT32).model();
        List<String> layers = new ArrayList<>(model.resolveTaps("model.embed_tokens"));
        for (String glob : List.of("model.layers.*.self_attn.q_proj", "model.layers.*.self_attn.k_proj",
                "model.layers.*.self_attn.v_proj", "model.layers.*.mlp")) {
            layers.addAll(model.resolveTaps(glob));
        }
        return layers;
    }
}
