package org.llmattrib.attribution;

import java.time.Instant;
import java.util.List;
import org.llmattrib.attribution.gradient.GradientMethod;
import org.llmattrib.attribution.input.PromptFeatures;
import org.llmattrib.attribution.perturbation.PerturbationMethod;

/**
 * A request resolved against the loaded model: features tokenized, method built, layer globs
 * expanded. Built by {@link RequestPlanner}; run by {@link AttributionEngine}.
 *
 * @param target target ids, or null to generate up to {@code maxNewTokens} greedily
 * @param layers resolved tap names (gradient methods only)
 */
public record Job(
        String jobId,
        PromptFeatures features,
        long[] target,
        int maxNewTokens,
        Method method,
        List<String> layers,
        boolean joint,
        Quantity quantity,
        int trials,
        Reduce reduce,
        long seed,
        int batchRows,
        Instant deadline) {

    public enum Reduce { SUM, L2, NONE }

    /** The layer groups interpolated together: one per layer, or (joint) one of all layers. */
    public List<List<String>> layerPaths() {
        return joint ? List.of(layers) : layers.stream().map(List::of).toList();
    }

    /** The attribution method: a perturbation one or a layer gradient one. */
    public sealed interface Method {
        String name();
    }

    public record Perturbation(String name, PerturbationMethod method) implements Method {}

    public record Gradient(String name, GradientMethod method) implements Method {}
}
