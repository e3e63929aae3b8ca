package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The attribution method and its parameters. Optional fields are null when absent; the
 * {@code ...OrDefault} accessors apply the documented defaults.
 *
 * @param name feature_ablation, shapley_values, shapley_value_sampling, kernel_shap, lime,
 *     layer_integrated_gradients, layer_gradient_x_activation or layer_gradient_shap
 * @param nSteps integration steps of integrated gradients (50)
 * @param integration gausslegendre (default), riemann_trapezoid, riemann_left, riemann_right or riemann_middle
 * @param internalBatchSize rows per batched forward/backward of the gradient methods (32)
 * @param nSamples samples of the sampling methods and gradient SHAP (25)
 * @param seed random seed (0)
 * @param maxFeatures the most features exact Shapley values accept (10)
 * @param stdevs noise of gradient SHAP (0.0)
 * @param attributeToLayerInput attribute to the layers' inputs instead of their outputs (false; the
 *     worker refuses true, see docs/attribution.md)
 * @param perturbationsPerEval perturbed rows per batched forward of the perturbation methods (32)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MethodSpec(
        String name,
        Integer nSteps,
        String integration,
        Integer internalBatchSize,
        Integer nSamples,
        Long seed,
        Integer maxFeatures,
        Double stdevs,
        Boolean attributeToLayerInput,
        Integer perturbationsPerEval) {

    /** The method {@code name} with every parameter at its default. */
    public static MethodSpec named(String name) {
        return new MethodSpec(name, null, null, null, null, null, null, null, null, null);
    }

    public int nStepsOrDefault() {
        return nSteps == null ? 50 : nSteps;
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
