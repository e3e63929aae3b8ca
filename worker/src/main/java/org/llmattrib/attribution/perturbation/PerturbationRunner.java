package org.llmattrib.attribution.perturbation;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.llmattrib.attribution.input.PromptFeatures;

/**
 * Captum's LLMAttribution for a perturbation method: per target token and for the whole target,
 * attributions averaged over {@code trials} independent plans (fresh samples and baseline draws).
 * A token's attributions are published as soon as every perturbed prompt has scored that token.
 */
public final class PerturbationRunner {

    /** Attributions per reported value for target token {@code index}; logProb is log p under the full prompt. */
    public record TokenAttribution(int index, double logProb, double[] attr) {}

    public interface Listener {
        void onToken(TokenAttribution token);
    }

    private final PerturbedScorer scorer;

    public PerturbationRunner(PerturbedScorer scorer) {
        this.scorer = scorer;
    }

    /** Runs the job; returns the sequence attribution per value. */
    public double[] run(PromptFeatures features, long[] target, PerturbationMethod method, int trials,
            boolean prob, Random random, NDManager jobManager, Listener listener) {
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
        double[] cumulative = new double[prompts.size()];
        scorer.score(prompts, target, jobManager, (t, logProbs) -> {
            double[] outputs = new double[logProbs.length];
            for (int i = 0; i < logProbs.length; i++) {
                cumulative[i] += logProbs[i];
                outputs[i] = prob ? Math.exp(logProbs[i]) : logProbs[i];
            }
            listener.onToken(new TokenAttribution(t, logProbs[0], features.toValues(average(plans, outputs, n))));
        });
        double[] sequence = new double[prompts.size()];
        for (int i = 0; i < sequence.length; i++) {
            sequence[i] = prob ? Math.exp(cumulative[i]) : cumulative[i];
        }
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
