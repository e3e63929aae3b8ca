package org.llmattrib.attribution.gradient;

import java.util.List;
import java.util.Random;
import org.llmattrib.attribution.JobListener;

/**
 * A layer gradient method as a path from a start activation to the layer's actual activation:
 * attr = sum over samples of weight * (end - start) * grad f(start + alpha (end - start)).
 * Integrated gradients, gradient x activation and gradient SHAP differ only in start and samples.
 */
public interface GradientMethod {

    /** One point on the path: where, its weight, and the noise added to the end activation. */
    record PathSample(double alpha, double weight, double noiseStdev) {}

    /** Whether the path starts at the baseline activation (true) or at zero (false). */
    boolean startsAtBaseline();

    List<PathSample> samples(Random random);

    /** The most samples one target token uses, without drawing them (for the cost estimate). */
    int sampleCount();

    /** Whether f(input) - f(baseline) is what the attributions should sum to (reported as the check). */
    boolean hasCompleteness();

    /**
     * A finer set of samples for a target token whose completeness checks came out as given, or null
     * when these samples are final (the default: a fixed number of samples).
     */
    default List<PathSample> refine(List<PathSample> previous, java.util.Collection<JobListener.IgCheck> checks) {
        return null;
    }
}
