package org.llmattrib.attribution.perturbation;

import java.util.List;
import java.util.Random;

/**
 * A perturbation-based attribution method (Captum's FeatureAblation, ShapleyValues, ...), reduced
 * to what it really is: a set of coalitions (which features are present) to evaluate the model on,
 * and a rule turning the outputs on those coalitions into one attribution per feature.
 *
 * <p>Because the coalitions do not depend on the output, one evaluation of them serves every
 * target token and the whole sequence.
 */
public interface PerturbationMethod {

    /** The coalitions for one trial and how to combine their outputs. */
    Plan plan(int features, Random random);

    /** How many coalitions one trial evaluates at most, without building them (for the cost estimate). */
    long coalitionCount(int features);

    /** Refuses a feature count the method cannot handle, before any work is done. */
    default void check(int features) {}

    /**
     * Coalitions to evaluate and the attribution rule over their outputs (same order).
     *
     * @param rule one attribution per feature from the output on each coalition
     */
    record Plan(List<boolean[]> coalitions, java.util.function.UnaryOperator<double[]> rule) {
        public double[] attribute(double[] outputs) {
            return rule.apply(outputs);
        }
    }

    static boolean[] all(int n, boolean value) {
        boolean[] m = new boolean[n];
        java.util.Arrays.fill(m, value);
        return m;
    }
}
