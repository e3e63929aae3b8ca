package org.llmattrib.attribution;

import org.llmattrib.protocol.ErrorCode;

/**
 * What one job may ask of this worker, checked by {@link RequestPlanner} before any work; a request
 * beyond a limit fails with code {@code limit_exceeded}, the field, the value and the limit.
 * Defaults depend on the device ({@link #cpu()}, {@link #gpu()}); every limit is a command-line flag.
 *
 * @param maxPromptTokens tokens of the full prompt ({@code --max-prompt-tokens})
 * @param maxTargetTokens target tokens, given or generated ({@code --max-target-tokens})
 * @param maxSteps integration steps, {@code method.n_steps} ({@code --max-steps})
 * @param maxSamples {@code method.n_samples} ({@code --max-samples})
 * @param maxTrials {@code num_trials} ({@code --max-trials})
 * @param maxLayers layers after glob expansion ({@code --max-layers})
 * @param maxShapleyFeatures features of exact Shapley values, 2^n evaluations ({@code --max-shapley-features})
 * @param maxBatchRows rows per batched forward: {@code method.internal_batch_size} and
 *     {@code method.perturbations_per_eval} ({@code --max-batch-rows})
 * @param maxRequestBytes size of the request's JSON ({@code --max-request-bytes})
 * @param maxJobFlops the job's estimated model FLOPs, see {@link CostEstimate} ({@code --max-job-flops})
 * @param maxKvCacheGib GiB of the KV caches a perturbation job keeps for all its prompts, which grow
 *     with every target token, see {@link CostEstimate} ({@code --max-kv-cache-gib})
 */
public record Limits(
        int maxPromptTokens,
        int maxTargetTokens,
        int maxSteps,
        int maxSamples,
        int maxTrials,
        int maxLayers,
        int maxShapleyFeatures,
        int maxBatchRows,
        int maxRequestBytes,
        double maxJobFlops,
        int maxKvCacheGib) {

    /** Sized for 2 CPU cores at about 100 GFLOP/s: the largest job allowed runs about 17 minutes. */
    public static Limits cpu() {
        return new Limits(4096, 512, 1000, 1000, 100, 128, 12, 256, 1 << 20, 1e14, 8);
    }

    /** About 100 times the CPU's throughput, and KV caches within a 80 GB GPU. */
    public static Limits gpu() {
        return new Limits(8192, 4096, 10000, 10000, 1000, 512, 16, 2048, 1 << 20, 1e16, 64);
    }

    /** The defaults for a device name as {@code --device} takes it: cpu, cuda or cuda:N. */
    public static Limits forDevice(String device) {
        return device.startsWith("cuda") ? gpu() : cpu();
    }

    /** Refuses a job whose estimated FLOPs or KV caches are above the limits, with the estimate and what it multiplies. */
    public void checkCost(CostEstimate cost) {
        if (cost.flops() > maxJobFlops) {
            throw exceeded("method", "estimated " + CostEstimate.format(cost.flops()) + " FLOPs (" + cost.basis()
                    + ") exceeds this worker's limit " + CostEstimate.format(maxJobFlops) + " (--max-job-flops)");
        }
        double gib = cost.kvCacheBytes() / (1L << 30);
        if (gib > maxKvCacheGib) {
            throw exceeded("method", String.format(java.util.Locale.ROOT, "estimated %.1f GiB of KV caches (%s) exceeds"
                    + " this worker's limit of %d GiB (--max-kv-cache-gib)", gib, cost.basis(), maxKvCacheGib));
        }
    }

    /** Refuses {@code value} above {@code limit} with the request field and the flag that sets the limit. */
    static void check(String field, String what, long value, long limit, String flag) {
        if (value > limit) {
            throw exceeded(field, what + " is " + value + ", above this worker's limit of " + limit + " (" + flag + ")");
        }
    }

    /** A {@code limit_exceeded} refusal of {@code field}. */
    public static RequestException exceeded(String field, String message) {
        return new RequestException(ErrorCode.LIMIT_EXCEEDED, field, message);
    }
}
