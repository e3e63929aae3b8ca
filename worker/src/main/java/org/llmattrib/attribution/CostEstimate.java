package org.llmattrib.attribution;

import ai.djl.ndarray.types.DataType;
import java.util.List;
import org.llmattrib.attribution.gradient.GradientMethod;
import org.llmattrib.attribution.gradient.LayerGradientEngine;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.Kernels;

/**
 * A job's model FLOPs, estimated from its plan before any work with the FLOP model that
 * {@link Work} measures with ({@link LlamaConfig#forwardFlops}):
 *
 * <ul>
 *   <li>a generated target: one greedy forward over the prompt, then one per new token;
 *   <li>perturbation methods: every perturbed prompt (the full one, plus trials x coalitions)
 *       forwarded over the prompt, then over the target token by token;
 *   <li>gradient methods: one forward of the input and its baseline over prompt + target, one of
 *       each layer path at its baseline (methods with a completeness check) from the lowest tapped
 *       decoder layer, and for each target token t a forward and a backward (to the activations:
 *       about once the forward, {@link LlamaConfig#backwardFlops}) of
 *       layer paths x samples rows over the prompt + t tokens, each batch of them through the
 *       decoder layers from the lowest tapped one of its rows up ({@link LayerGradientEngine#batches}).
 *       The backward runs from there even when the forward runs every layer.
 * </ul>
 *
 * <p>It is an upper bound of what the engine measures: the engine scores identical perturbed
 * prompts once and computes their shared prefix once.
 *
 * <p>The KV caches are what a perturbation job keeps until its last target token: keys and values
 * (in the model's type) of every layer for every prompt and position (prompt + target). Gradient methods keep no
 * KV cache (only greedy generation of their target does); their memory is bounded by the batch rows.
 *
 * @param flops estimated model FLOPs
 * @param kvCacheBytes estimated bytes of the KV caches alive at once
 * @param basis what the estimate multiplies, for messages
 */
public record CostEstimate(double flops, double kvCacheBytes, String basis) {

    /** The estimate for a model of {@code config} whose activations are {@code dtype}. */
    public static CostEstimate of(LlamaConfig config, DataType dtype, Job job) {
        return of(config, dtype, job, false);
    }

    /**
     * @param fullDepth for gradient methods, the estimate of {@link LayerGradientEngine}'s full-depth
     *     reference: every path forward through every layer
     */
    public static CostEstimate of(LlamaConfig config, DataType dtype, Job job, boolean fullDepth) {
        int prompt = job.features().fullPrompt().length;
        boolean generated = job.target() == null;
        int targetTokens = generated ? job.maxNewTokens() : job.target().length;
        double generation = generated ? scoring(config, 1, prompt, targetTokens) : 0;
        String after = generated ? ", after generating " + targetTokens + " tokens" : "";
        if (job.method() instanceof Job.Perturbation p) {
            double prompts = 1 + (double) job.trials() * p.method().coalitionCount(job.features().featureCount());
            double kvCache = prompts * (prompt + targetTokens) * kvBytesPerPosition(config, dtype);
            return new CostEstimate(generation + scoring(config, prompts, prompt, targetTokens), kvCache, String.format(
                    "%.0f perturbed prompts of %d tokens x %d target tokens%s", prompts, prompt, targetTokens, after));
        }
        GradientMethod method = ((Job.Gradient) job.method()).method();
        List<List<String>> paths = job.layerPaths();
        List<List<String>> ordered = LayerGradientEngine.batchOrder(paths, config, fullDepth);
        List<LayerGradientEngine.Batch> batches = LayerGradientEngine.batches(ordered, method.sampleCount(),
                job.batchRows(), config);
        LayerGradientEngine.Batch baseline = LayerGradientEngine.batches(paths, 1, paths.size(), config).get(0);
        long length = prompt + targetTokens;
        double flops = generation + config.forwardFlops(2 * length, (length + 1) / 2, targetTokens);
        if (method.hasCompleteness()) {
            flops += (double) paths.size() * config.forwardFlops(length, (length + 1) / 2, targetTokens,
                    baseline.forwardLayers(config, fullDepth));
        }
        for (int t = 0; t < targetTokens; t++) {
            long upTo = prompt + t;
            for (LayerGradientEngine.Batch b : batches) {
                flops += (double) (b.to() - b.from()) * (config.forwardFlops(upTo, (upTo + 1) / 2, 1,
                        b.forwardLayers(config, fullDepth))
                        + config.backwardFlops(upTo, (upTo + 1) / 2, 1, b.backwardLayers(config)));
            }
        }
        double generationCache = generated ? length * kvBytesPerPosition(config, dtype) : 0;
        return new CostEstimate(flops, generationCache, String.format("%d layer paths x %d samples x %d target tokens,"
                + " forward and backward over %d to %d positions from decoder layer %d up%s", paths.size(),
                method.sampleCount(), targetTokens, prompt, prompt + targetTokens - 1, baseline.startLayer(), after));
    }

    /** {@code rows} prompts forwarded over the prompt, then over {@code targetTokens} tokens one at a time. */
    private static double scoring(LlamaConfig config, double rows, long prompt, long targetTokens) {
        double perRow = config.forwardFlops(prompt, (prompt + 1) / 2, 1)
                + config.forwardFlops(targetTokens - 1, prompt + targetTokens / 2, targetTokens - 1);
        return rows * perRow;
    }

    /** Keys and values of every layer for one row and position. */
    private static double kvBytesPerPosition(LlamaConfig config, DataType dtype) {
        return 2.0 * config.numLayers() * config.numKvHeads() * config.headDim() * Kernels.bytes(dtype);
    }

    /** Like 3.2e15. */
    static String format(double flops) {
        return String.format(java.util.Locale.ROOT, "%.1e", flops).replaceFirst("e\\+?0*(?=\\d)", "e");
    }
}
