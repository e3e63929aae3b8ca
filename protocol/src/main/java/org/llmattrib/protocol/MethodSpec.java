package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The attribution method and its parameters. Optional fields are null when absent; the
 * {@code ...OrDefault} accessors apply the documented defaults.
 *
 * @param name feature_ablation, shapley_values, shapley_value_sampling, kernel_shap, lime,
 *     layer_integrated_gradients, layer_gradient_x_activation or layer_gradient_shap
 * @param nSteps integration steps of integrated gradients (50), or {@code "auto"}: doubled per target
 *     token until the completeness error is within {@code tolerance}
 * @param integration gausslegendre (default), riemann_trapezoid, riemann_left, riemann_right or riemann_middle
 * @param internalBatchSize rows per batched forward/backward of the gradient methods (32)
 * @param nSamples samples of the sampling methods and gradient SHAP (25)
 * @param seed random seed (0)
 * @param maxFeatures the most features exact Shapley values accept (10)
 * @param stdevs noise of gradient SHAP (0.0)
 * @param attributeToLayerInput attribute to the layers' inputs instead of their outputs (false; the
 *     worker refuses true, see docs/attribution.md)
 * @param perturbationsPerEval perturbed rows per batched forward of the perturbation methods (32)
 * @param tolerance with {@code n_steps: "auto"}: the largest accepted |delta| relative to
 *     |f(input) - f(baseline)| (0.005)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MethodSpec(
        String name,
        Steps nSteps,
        String integration,
        Integer internalBatchSize,
        Integer nSamples,
        Long seed,
        Integer maxFeatures,
        Double stdevs,
        Boolean attributeToLayerInput,
        Integer perturbationsPerEval,
        Double tolerance) {

    /** Steps of {@code "auto"} start here and double up to {@link #MAX_AUTO_STEPS}. */
    public static final int FIRST_AUTO_STEPS = 4;
    public static final int MAX_AUTO_STEPS = 512;

    /** {@code n_steps}: a count, or {@code "auto"} (count null). */
    public record Steps(Integer count) {
        public static final Steps AUTO = new Steps(null);

        @com.fasterxml.jackson.annotation.JsonCreator(mode = com.fasterxml.jackson.annotation.JsonCreator.Mode.DELEGATING)
        public static Steps fromJson(com.fasterxml.jackson.databind.JsonNode node) {
            return node.isTextual() ? AUTO : new Steps(node.asInt());
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public Object toJson() {
            return count == null ? "auto" : count;
        }
    }

    /** The method {@code name} with every parameter at its default. */
    public static MethodSpec named(String name) {
        return new MethodSpec(name, null, null, null, null, null, null, null, null, null, null);
    }

    public boolean autoSteps() {
        return nSteps != null && nSteps.count() == null;
    }

    /** The integration steps: the given count (50), or with {@code "auto"} the most it may use. */
    public int nStepsOrDefault() {
        return nSteps == null ? 50 : autoSteps() ? MAX_AUTO_STEPS : nSteps.count();
    }

    public double toleranceOrDefault() {
        return tolerance == null ? 0.005 : tolerance;
    }

    public String integrationOrDefault() {
        return integration == null ? "gausslegendre" : integration;
    }

    public int nSamplesOrDefault() {
        return nSamples == null ? 25 : nSamples;
    }

    public long seedOrDefault() {
        return seed == null ? 0 : seed;
    }

    public int maxFeaturesOrDefault() {
        return maxFeatures == null ? 10 : maxFeatures;
    }

    public double stdevsOrDefault() {
        return stdevs == null ? 0.0 : stdevs;
    }

    public boolean attributeToLayerInputOrDefault() {
        return attributeToLayerInput != null && attributeToLayerInput;
    }

    public int perturbationsPerEvalOrDefault() {
        return perturbationsPerEval == null ? 32 : perturbationsPerEval;
    }

    public int internalBatchSizeOrDefault() {
        return internalBatchSize == null ? 32 : internalBatchSize;
    }
}
