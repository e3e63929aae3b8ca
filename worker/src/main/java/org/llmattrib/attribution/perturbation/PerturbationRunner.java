package org.llmattrib.attribution.perturbation;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.llmattrib.attribution.Quantity;
import org.llmattrib.attribution.input.PromptFeatures;

/**
 * Captum's LLMAttribution for a perturbation method: per target token and for the whole target,
 * attributions averaged over {@code trials} independent plans (fresh samples and baseline draws).
 * A token's attributions are published as soon as every perturbed prompt has scored that token.
 */
public final class PerturbationRunner {

    public interface Listener {
        /** Attributions per reported value for target token {@code index}; logProb is log p under the full prompt. */
        void onToken(int index, double logProb, double[] attr);
    }

    private final PerturbedScorer scorer;

    public PerturbationRunner(PerturbedScorer scorer) {
        this.scorer = scorer;
    }

    /** Runs the job; returns the sequence attribution per value. */
    public double[] run(PromptFeatures features, long[] target, PerturbationMethod method, int trials,
            Quantity quantity, Random random, NDManager jobManager, Listener listener) {
        int n = features.featureCount();
        List<PerturbationMethod.Plan> plans = new ArrayList<>();
        List<long[]> prompts = new ArrayList<>();
        prompts.add(features.fullPrompt());
        for (int trial = 0; trial < trials; trial++) {
            PerturbationMethod.Plan plan = method.plan(n, random);
            plans.add(plan);
            for (boolean[] coalition : plan.coalitions()) {
                prompts.add(features.render(coalition, random));
            }
        }
        double[] sequence = new double[prompts.size()];
        java.util.Arrays.fill(sequence, quantity.identity());
        scorer.score(prompts, target, quantity, jobManager, (t, values, logProbs) -> {
            for (int i = 0; i < values.length; i++) {
                sequence[i] = quantity.combine(sequence[i], values[i]);
            }
            listener.onToken(t, logProbs[0], features.toValues(average(plans, values, n)));
        });
        return features.toValues(average(plans, sequence, n));
    }

    /** Mean over trials of each plan's attribution from its slice of the outputs (after the full prompt). */
    private static double[] average(List<PerturbationMethod.Plan> plans, double[] outputs, int n) {
        double[] mean = new double[n];
        int offset = 1;
        for (PerturbationMethod.Plan plan : plans) {
            int size = plan.coalitions().size();
            double[] attr = plan.attribute(java.util.Arrays.copyOfRange(outputs, offset, offset + size));
            for (int f = 0; f < n; f++) {
                mean[f] += attr[f] / plans.size();
            }
            offset += size;
        }
        return mean;
    }
}
