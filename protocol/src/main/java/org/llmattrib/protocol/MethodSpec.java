package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/** The attribution method and its parameters; the {@code ...OrDefault} accessors apply the defaults. */
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
        Integer perturbationsPerEval) {

    public static MethodSpec named(String name) {
        return new MethodSpec(name, null, null, null, null, null, null, null, null);
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
}
