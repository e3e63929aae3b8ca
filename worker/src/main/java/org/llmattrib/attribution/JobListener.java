package org.llmattrib.attribution;

import java.util.List;
import java.util.Map;

/**
 * Receives a job's results as they become final: the service turns them into events
 * ({@code JobEvents}). {@link TokenResult} is the one type of a target token's result, whatever the
 * method.
 */
public interface JobListener {

    /** The job started; {@code targetTokens} is null when the target is still to be generated. */
    void accepted(List<String> features, List<String> targetTokens);

    void token(TokenResult token);

    void completed(Completion completion);

    /** f(input), f(baseline), completeness error of one integrated-gradients path, and the steps it took. */
    record IgCheck(double fInput, double fBaseline, double delta, int steps) {}

    /**
     * One target token's attributions, per feature.
     *
     * @param attr one number per feature (for gradient methods: the first requested layer's row)
     * @param layers per layer, one number per feature (gradient methods; else null)
     * @param ig per layer (or "joint"), the completeness check (else null)
     * @param tensors per layer, where the unreduced [positions x hidden] tensor was stored (else null)
     */
    record TokenResult(int index, long tokenId, String token, double logProb, double[] attr,
            Map<String, double[]> layers, Map<String, IgCheck> ig, Map<String, String> tensors) {}

    record Completion(double[] seqAttr, List<String> outputTokens, long[] outputTokenIds,
            Map<String, double[]> layersSeqAttr, Map<String, Double> timings, Map<String, Number> work) {}
}
