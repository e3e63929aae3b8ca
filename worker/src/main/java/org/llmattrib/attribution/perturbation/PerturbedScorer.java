package org.llmattrib.attribution.perturbation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.llmattrib.attribution.Quantity;
import org.llmattrib.attribution.Work;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.KvCache;
import org.llmattrib.llama.LlamaModel;

/**
 * Scores one target after many perturbed prompts, target token by target token, so that each
 * token's attributions can be published as soon as every prompt has its log-prob for it.
 *
 * <p>Each batch of prompts keeps its KV cache; advancing all batches by one target token costs
 * what the token costs in a teacher-forced forward, so streaming adds no FLOPs. Identical prompts
 * are scored once, and the token prefix all prompts share is computed once and reused. Every forward
 * goes through the {@link ForwardBatcher}, which packs it with those of other jobs scoring at the
 * same time.
 */
public final class PerturbedScorer {

    /**
     * Receives, for every prompt i, the attributed quantity at target token t and
     * log p(target[t] | prompt_i, target[&lt;t]).
     */
    public interface TokenListener {
        void onToken(int t, double[] values, double[] logProbs);
    }

    private final ForwardBatcher batcher;
    private final LlamaModel model;
    private final int batchRows;
    private final Work work;
    private final Runnable checkpoint;

    /**
     * @param checkpoint called between steps; throws to stop the job (cancellation, deadline)
     */
    public PerturbedScorer(ForwardBatcher batcher, int batchRows, Work work, Runnable checkpoint) {
        this.batcher = batcher;
        this.model = batcher.model();
        this.batchRows = batchRows;
        this.work = work;
        this.checkpoint = checkpoint;
    }

    public void score(List<long[]> prompts, long[] target, Quantity quantity, NDManager jobManager,
            TokenListener listener) {
        if (target.length == 0) {
            return;
        }
        Map<String, Integer> uniqueIndex = new LinkedHashMap<>();
        List<long[]> unique = new ArrayList<>();
        int[] rowOf = new int[prompts.size()];
        for (int i = 0; i < prompts.size(); i++) {
            long[] p = prompts.get(i);
            model.checkIds(p);
            rowOf[i] = uniqueIndex.computeIfAbsent(Arrays.toString(p), k -> {
                unique.add(p);
                return unique.size() - 1;
            });
        }
        int prefix = sharedPrefix(unique);
        List<Batch> batches = new ArrayList<>();
        double[] uniqueValues = new double[unique.size()];
        double[] uniqueLogProbs = new double[unique.size()];
        try (ForwardBatcher.Lane lane = batcher.lane(); NDManager m = jobManager.newSubManager()) {
            KvCache prefixCache = prefix == 0 ? null : prefixCache(lane, unique.get(0), prefix, m);
            for (int start = 0; start < unique.size(); start += batchRows) {
                checkpoint.run();
                Batch b = new Batch(lane, start, unique.subList(start, Math.min(unique.size(), start + batchRows)),
                        m.newSubManager());
                batches.add(b);
                b.first(prefixCache, prefix, new Scored(quantity, 0, target[0], uniqueValues, uniqueLogProbs));
            }
            listener.onToken(0, spread(uniqueValues, rowOf), spread(uniqueLogProbs, rowOf));
            for (int t = 1; t < target.length; t++) {
                for (Batch b : batches) {
                    checkpoint.run();
                    b.next(target[t - 1], new Scored(quantity, t, target[t], uniqueValues, uniqueLogProbs));
                }
                listener.onToken(t, spread(uniqueValues, rowOf), spread(uniqueLogProbs, rowOf));
            }
        }
    }

    private static double[] spread(double[] unique, int[] rowOf) {
        double[] out = new double[rowOf.length];
        for (int i = 0; i < rowOf.length; i++) {
            out[i] = unique[rowOf[i]];
        }
        return out;
    }

    /** Longest common token prefix, leaving at least one token of every prompt to score from. */
    private static int sharedPrefix(List<long[]> prompts) {
        int n = prompts.stream().mapToInt(p -> p.length).min().orElse(0) - 1;
        long[] first = prompts.get(0);
        for (long[] p : prompts) {
            int i = 0;
            while (i < n && p[i] == first[i]) {
                i++;
            }
            n = i;
        }
        return Math.max(n, 0);
    }

    private KvCache prefixCache(ForwardBatcher.Lane lane, long[] prompt, int prefix, NDManager m) {
        KvCache cache = new KvCache(model.config().numLayers());
        long[] mask = new long[prefix];
        Arrays.fill(mask, 1);
        lane.forward(new ForwardBatcher.Step(Arrays.copyOf(prompt, prefix), mask, 1, prefix, cache, m, m)).close();
        work.forward(1, prefix, 0, 0);
        return cache;
    }

    /** What one step scores (target token t, through the quantity) and where it writes, per unique prompt. */
    private record Scored(Quantity quantity, int t, long target, double[] values, double[] logProbs) {}

    /** A batch of prompts with its own KV cache. */
    private final class Batch {
        final ForwardBatcher.Lane lane;
        final int offset;
        final List<long[]> prompts;
        final NDManager manager;
        KvCache cache;
        long past;

        Batch(ForwardBatcher.Lane lane, int offset, List<long[]> prompts, NDManager manager) {
            this.lane = lane;
            this.offset = offset;
            this.prompts = prompts;
            this.manager = manager;
        }

        /** The prompts after the shared prefix, left-padded so every row's last position is real. */
        void first(KvCache prefixCache, int prefix, Scored out) {
            int rows = prompts.size();
            int width = prompts.stream().mapToInt(p -> p.length - prefix).max().orElseThrow();
            long[] ids = new long[rows * width];
            long[] mask = new long[rows * width];
            for (int r = 0; r < rows; r++) {
                long[] p = prompts.get(r);
                int pad = width - (p.length - prefix);
                for (int i = prefix; i < p.length; i++) {
                    ids[r * width + pad + i - prefix] = p[i];
                    mask[r * width + pad + i - prefix] = 1;
                }
            }
            cache = prefixCache == null ? new KvCache(model.config().numLayers()) : prefixCache.repeatRows(rows);
            cache.attach(manager);
            past = prefix;
            step(ids, mask, width, out);
        }

        void next(long previousTarget, Scored out) {
            int rows = prompts.size();
            long[] ids = new long[rows];
            Arrays.fill(ids, previousTarget);
            long[] mask = new long[rows];
            Arrays.fill(mask, 1);
            step(ids, mask, 1, out);
        }

        private void step(long[] ids, long[] mask, int width, Scored out) {
            int rows = prompts.size();
            try (NDManager step = manager.newSubManager()) {
                NDArray logProbs = lane.forward(new ForwardBatcher.Step(ids, mask, rows, width, cache, manager, step));
                // one read back to the host per step (on a GPU each read waits for the device)
                double[] read = out.quantity().at(out.t(), out.target(), logProbs)
                        .concat(logProbs.get(":, {}", out.target())).toType(DataType.FLOAT64, false).toDoubleArray();
                System.arraycopy(read, 0, out.values(), offset, rows);
                System.arraycopy(read, rows, out.logProbs(), offset, rows);
            }
            work.forward(rows, width, past, rows);
            past += width;
        }
    }
}
