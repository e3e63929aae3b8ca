package org.llmattrib.attribution;

import ai.djl.ndarray.NDArray;

/**
 * What is attributed at target position t, computed from the model's log-probabilities over the
 * vocabulary at that position (Captum's {@code attr_target}, plus contrast). The perturbation
 * scorer and the gradient engine both call it; nothing else knows which one is in use.
 */
public sealed interface Quantity {

    /**
     * f at target position t for every row.
     *
     * @param logProbs [rows, vocab] log p(. | prompt_row, target[&lt;t]); differentiable where it is
     * @return [rows]
     */
    NDArray at(int t, long target, NDArray logProbs);

    /** The neutral element of {@link #combine}: f of the empty sequence (0 for a sum of log terms). */
    default double identity() {
        return 0;
    }

    /**
     * The sequence quantity (Captum's seq_attr target) from the one before and token t's value: the
     * sum, for quantities that are logs of per-token probabilities (or their differences).
     */
    default double combine(double sequence, double token) {
        return sequence + token;
    }

    /** Checks this quantity against the final target (known only after generation). */
    default void check(long[] target) {}

    /** log p(target[t]): Captum's default. */
    record LogProb() implements Quantity {
        @Override
        public NDArray at(int t, long target, NDArray logProbs) {
            return pick(logProbs, target);
        }
    }

    /** p(target[t]); the sequence quantity is the product, p(target | prompt). */
    record Prob() implements Quantity {
        @Override
        public NDArray at(int t, long target, NDArray logProbs) {
            return pick(logProbs, target).exp();
        }

        @Override
        public double identity() {
            return 1;
        }

        @Override
        public double combine(double sequence, double token) {
            return sequence * token;
        }
    }

    /**
     * log p(target[t]) - log p(contrast[t]) under the same teacher-forced prefix ("why t and not c").
     * One contrast token per target token, or a single one for every position.
     */
    record Contrast(long[] ids) implements Quantity {
        @Override
        public NDArray at(int t, long target, NDArray logProbs) {
            return pick(logProbs, target).sub(pick(logProbs, ids[ids.length == 1 ? 0 : t]));
        }

        @Override
        public void check(long[] target) {
            if (ids.length != 1 && ids.length != target.length) {
                throw RequestException.invalid("attr_target", "the contrast has " + ids.length + " tokens but the"
                        + " target has " + target.length + "; give one contrast token per target token, or a single"
                        + " one for every position");
            }
        }
    }

    /** Column {@code id} of [rows, vocab]: [rows]. */
    private static NDArray pick(NDArray logProbs, long id) {
        return logProbs.get(":, {}", id);
    }
}
