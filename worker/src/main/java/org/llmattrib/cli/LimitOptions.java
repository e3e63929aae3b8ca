package org.llmattrib.cli;

import org.llmattrib.attribution.Limits;
import picocli.CommandLine.Option;

/** What one job may ask of this worker; each flag overrides the device's default (see {@link Limits}). */
public final class LimitOptions {
    @Option(names = "--max-prompt-tokens", description = "prompt tokens (default: 4096 on cpu, 8192 on cuda)")
    Integer maxPromptTokens;

    @Option(names = "--max-target-tokens", description = "target tokens, given or generated (default: 512 on cpu, 4096 on cuda)")
    Integer maxTargetTokens;

    @Option(names = "--max-steps", description = "method.n_steps (default: 1000 on cpu, 10000 on cuda)")
    Integer maxSteps;

    @Option(names = "--max-samples", description = "method.n_samples (default: 1000 on cpu, 10000 on cuda)")
    Integer maxSamples;

    @Option(names = "--max-trials", description = "num_trials (default: 100 on cpu, 1000 on cuda)")
    Integer maxTrials;

    @Option(names = "--max-layers", description = "layers after glob expansion (default: 128 on cpu, 512 on cuda)")
    Integer maxLayers;

    @Option(names = "--max-shapley-features", description = "features of exact Shapley values (default: 12 on cpu, 16 on cuda)")
    Integer maxShapleyFeatures;

    @Option(names = "--max-batch-rows", description = "method.internal_batch_size and perturbations_per_eval (default: 256 on cpu, 2048 on cuda)")
    Integer maxBatchRows;

    @Option(names = "--max-request-bytes", description = "request JSON size (default: 1048576)")
    Integer maxRequestBytes;

    @Option(names = "--max-job-flops", description = "estimated model FLOPs of one job (default: 1e14 on cpu, 1e16 on cuda)")
    Double maxJobFlops;

    @Option(names = "--max-kv-cache-gib", description = "KV caches of a perturbation job, GiB (default: 8 on cpu, 64 on cuda)")
    Integer maxKvCacheGib;

    /** The defaults for {@code device} with the flags given applied. */
    Limits limits(String device) {
        Limits d = Limits.forDevice(device);
        return new Limits(or(maxPromptTokens, d.maxPromptTokens()), or(maxTargetTokens, d.maxTargetTokens()),
                or(maxSteps, d.maxSteps()), or(maxSamples, d.maxSamples()), or(maxTrials, d.maxTrials()),
                or(maxLayers, d.maxLayers()), or(maxShapleyFeatures, d.maxShapleyFeatures()),
                or(maxBatchRows, d.maxBatchRows()), or(maxRequestBytes, d.maxRequestBytes()),
                maxJobFlops == null ? d.maxJobFlops() : maxJobFlops, or(maxKvCacheGib, d.maxKvCacheGib()));
    }

    private static int or(Integer flag, int fallback) {
        return flag == null ? fallback : flag;
    }
}
