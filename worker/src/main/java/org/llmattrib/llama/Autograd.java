package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Supplier;

/**
 * Reverse-mode gradients without DJL's GradientCollector, which allows one collector per JVM.
 * PyTorch's grad mode is per thread, so concurrent requests on different threads each get their
 * own graph; {@link JniUtils#backward} with a kept graph lets one forward serve several backwards.
 */
public final class Autograd {
    private Autograd() {}

    /** Runs {@code body} with PyTorch grad mode on for this thread. */
    public static <T> T withGrad(Supplier<T> body) {
        boolean before = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(before);
        }
    }

    /**
     * A leaf to differentiate against: a native copy of {@code value} that records gradients.
     * (Not {@code NDArray.duplicate()}, which copies through an uninitialized array and a byte buffer.)
     */
    public static NDArray leaf(NDArray value) {
        NDArray leaf = JniUtils.clone((PtNDArray) value);
        leaf.setRequiresGradient(true);
        return leaf;
    }

    /**
     * Back-propagates d(output)/d(leaves) from a scalar, accumulating into the leaves' gradients;
     * {@code keepGraph} keeps the forward graph for another backward.
     */
    public static void backward(NDArray scalarOutput, boolean keepGraph) {
        NDArray seed = scalarOutput.onesLike();
        JniUtils.backward((PtNDArray) scalarOutput, (PtNDArray) seed, keepGraph, false);
    }

    /**
     * The gradient accumulated in a leaf, read in place (valid while the leaf lives): combine it with
     * native operations rather than copying it through Java buffers.
     */
    public static NDArray gradient(NDArray leaf) {
        return leaf.getGradient();
    }
}
