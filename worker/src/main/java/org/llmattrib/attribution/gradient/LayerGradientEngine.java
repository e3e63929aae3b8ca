package org.llmattrib.attribution.gradient;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.llmattrib.attribution.JobListener;
import org.llmattrib.attribution.Quantity;
import org.llmattrib.attribution.Work;
import org.llmattrib.llama.Autograd;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.LlamaModel;
import org.llmattrib.llama.Taps;

/**
 * Runs a {@link GradientMethod} on layer taps, per target token, batching layers and path samples
 * into batches without padding (every row is the same sequence; rows differ in what a tap is replaced by).
 *
 * <p>Layers form groups interpolated together: one group per layer in independent mode (each
 * layer gets its own path, so completeness holds per layer), one group of all layers in Captum's
 * joint mode. For target token t the sequence is prompt + target[&lt;t] and f is the
 * {@link Quantity} (log p(target[t]), p, or a contrast) at its last position.
 *
 * <p>Below a group's lowest tapped decoder layer every path row computes what the input computes,
 * so its rows forward from that layer ({@link LlamaModel#forwardFrom}) on the input's residual
 * stream there, kept from the first forward. Rows are batched in the order of their start layers,
 * and a batch forwards from the lowest start layer of its rows ({@link #batches}). The backward
 * stops there in any case: nothing below the replaced taps requires a gradient (the weights do not).
 *
 * <p>Paths and leaves are in the model's type; each gradient x (end - start) is widened to float32
 * (float64 for a float64 model) before it is accumulated, so a bfloat16 model's attributions sum in float32.
 */
public final class LayerGradientEngine {

    /**
     * Per target token t, per layer, by position (the engine groups positions into features and
     * reports a {@link JobListener.TokenResult}): the attribution of every position 0..prompt+t-1
     * summed over the hidden dimension, its L2 norm, the unreduced [positions x hidden] tensor
     * (alive only during {@link Listener#onToken}), and per group the check {f_input, f_baseline, delta}.
     */
    public record PositionAttribution(
            int index,
            double logProb,
            double fInput,
            Map<String, double[]> positionSums,
            Map<String, double[]> positionNorms,
            Map<String, NDArray> unreduced,
            Map<String, JobListener.IgCheck> checks) {}

    public interface Listener {
        void onToken(PositionAttribution result);
    }

    private final LlamaModel model;
    private final Work work;
    private final Runnable checkpoint;
    private final boolean fullDepth;

    public LayerGradientEngine(LlamaModel model, Work work, Runnable checkpoint) {
        this(model, work, checkpoint, false);
    }

    /**
     * @param fullDepth forward every row from the embeddings through all layers, as the engine did
     *     before it started at the tapped layer: the reference that the exactness test and the
     *     benchmark compare with
     */
    public LayerGradientEngine(LlamaModel model, Work work, Runnable checkpoint, boolean fullDepth) {
        this.model = model;
        this.work = work;
        this.checkpoint = checkpoint;
        this.fullDepth = fullDepth;
    }

    /** The decoder layer that a group's rows need to forward from: the lowest one that reads any of its taps. */
    public static int startLayer(List<String> group, LlamaConfig config) {
        return group.stream().mapToInt(layer -> LlamaModel.firstLayerReading(layer, config)).min().orElseThrow();
    }

    /**
     * The groups in the order their rows are batched: by start layer, so that a batch mixes start
     * layers only to fill up; at full depth as given.
     */
    public static List<List<String>> batchOrder(List<List<String>> groups, LlamaConfig config, boolean fullDepth) {
        return fullDepth ? groups
                : groups.stream().sorted(Comparator.comparingInt(g -> startLayer(g, config))).toList();
    }

    /**
     * Rows [from, to) of the (group x sample) grid and the lowest start layer of their groups: the
     * backward runs from there up (nothing below it requires a gradient), and so does the forward
     * except at full depth.
     */
    public record Batch(int from, int to, int startLayer) {
        public int forwardLayers(LlamaConfig config, boolean fullDepth) {
            return fullDepth ? config.numLayers() : config.numLayers() - startLayer;
        }

        public int backwardLayers(LlamaConfig config) {
            return config.numLayers() - startLayer;
        }
    }

    /** The grid of {@code groups} (in {@link #batchOrder}) x {@code samples} in batches of {@code batchRows} rows. */
    public static List<Batch> batches(List<List<String>> groups, int samples, int batchRows, LlamaConfig config) {
        List<Batch> batches = new ArrayList<>();
        int rows = groups.size() * samples;
        for (int first = 0; first < rows; first += batchRows) {
            int to = Math.min(rows, first + batchRows);
            batches.add(new Batch(first, to, startLayer(groups.subList(first / samples, (to - 1) / samples + 1)
                    .stream().flatMap(List::stream).toList(), config)));
        }
        return batches;
    }

    /**
     * @param prompt prompt ids
     * @param baselinePrompt the prompt with its features replaced by the baseline token
     * @param groups layer groups, each interpolated on its own path
     * @param quantity what is attributed at each target token
     */
    public void run(long[] prompt, long[] baselinePrompt, long[] target, List<List<String>> groups,
            GradientMethod method, Quantity quantity, int batchRows, long seed,
            NDManager jobManager, Listener listener) {
        int len = prompt.length + target.length;
        long[] ids = concat(prompt, target);
        long[] baseIds = concat(baselinePrompt, target);
        model.checkIds(ids);
        model.checkIds(baseIds);
        List<String> layers = groups.stream().flatMap(List::stream).toList();
        List<List<String>> ordered = batchOrder(groups, model.config(), fullDepth);
        Batch all = batches(groups, 1, groups.size(), model.config()).get(0); // one row per group
        Random random = new Random(seed);
        try (NDManager m = jobManager.newSubManager()) {
            // activations on the input and the baseline input, and f(input) for every target token at once
            Map<String, NDArray> end = new LinkedHashMap<>();
            Map<String, NDArray> start = new LinkedHashMap<>();
            double[] fInput;
            double[] logProbs;
            // per start layer of a group, the input's residual stream [1, L, hidden] entering it
            Map<Integer, NDArray> streams = new HashMap<>();
            int[] startLayers = groups.stream().mapToInt(g -> startLayer(g, model.config())).distinct().toArray();
            try (NDManager first = m.newSubManager()) {
                Set<String> captured = new HashSet<>(layers);
                Arrays.stream(startLayers).forEach(layer -> captured.add(model.streamInto(layer)));
                Taps capture = Taps.capturing(captured);
                NDArray both = first.create(concat(ids, baseIds)).reshape(2, len);
                NDArray hidden = model.forward(both, first.ones(both.getShape(), DataType.INT64), capture, null);
                work.forward(2, len, 0, target.length);
                NDArray inputLogProbs = logSoftmax(hidden, prompt.length, target.length, 0);
                fInput = f(inputLogProbs, target, quantity);
                logProbs = f(inputLogProbs, target, new Quantity.LogProb());
                // keep the captured activations for the job, free the rest of this forward now
                for (String layer : layers) {
                    NDArray a = capture.captured(layer);
                    a.attach(m);
                    end.put(layer, a.get("0:1"));
                    start.put(layer, method.startsAtBaseline() ? a.get("1:2")
                            : model.toModelType(m.zeros(a.get("0:1").getShape(), model.wideType())));
                }
                for (int layer : startLayers) {
                    NDArray stream = capture.captured(model.streamInto(layer));
                    stream.attach(m);
                    streams.put(layer, stream.get("0:1"));
                }
            }
            double[][] fBaseline = method.hasCompleteness() ? baselineOutputs(m, ids, prompt.length, target, groups,
                    all, streams.get(all.startLayer()), start, quantity) : null;

            List<GradientMethod.PathSample> firstSamples = method.samples(random);
            for (int t = 0; t < target.length; t++) {
                int upTo = prompt.length + t;
                // a method with steps by accuracy integrates again with finer samples until its checks pass
                for (List<GradientMethod.PathSample> samples = firstSamples; samples != null; ) {
                    // the token's sums and everything read from them (the unreduced tensors too) end with it
                    try (NDManager token = m.newSubManager()) {
                        Map<String, NDArray> acc = new LinkedHashMap<>();
                        for (String layer : layers) {
                            acc.put(layer, token.zeros(end.get(layer).get(token, new NDIndex(":, 0:{}", upTo))
                                    .getShape(), model.wideType()));
                        }
                        for (Batch batch : batches(ordered, samples.size(), batchRows, model.config())) {
                            checkpoint.run();
                            pathBatch(token, ids, t, upTo, target[t], ordered, samples, batch,
                                    streams.get(batch.startLayer()), start, end, quantity, random, acc);
                        }
                        PositionAttribution result = tokenResult(t, upTo, logProbs[t], fInput[t], fBaseline, groups,
                                samples.size(), acc);
                        List<GradientMethod.PathSample> finer = method.refine(samples, result.checks().values());
                        if (finer == null) {
                            listener.onToken(result);
                        }
                        samples = finer;
                    }
                }
            }
        }
    }

    /**
     * f(target[t]) for every t when each group's layers output their start activation: one forward
     * of one row per group, {@code all}, on the input's residual stream {@code stream} entering its
     * start layer.
     */
    private double[][] baselineOutputs(NDManager m, long[] ids, int promptLength, long[] target,
            List<List<String>> groups, Batch all, NDArray stream, Map<String, NDArray> start, Quantity quantity) {
        int len = ids.length;
        double[][] out = new double[groups.size()][];
        try (NDManager scratch = m.newSubManager()) {
            Taps taps = Taps.capturing(Set.of());
            for (int g = 0; g < groups.size(); g++) {
                for (String layer : groups.get(g)) {
                    taps.replaceRows(layer, start.get(layer).get(scratch, new NDIndex(":")), g);
                }
            }
            NDArray hidden = forward(scratch, all.startLayer(), stream, ids, groups.size(), len, taps);
            work.forward(groups.size(), len, 0, (long) groups.size() * target.length,
                    all.forwardLayers(model.config(), fullDepth));
            for (int g = 0; g < groups.size(); g++) {
                out[g] = f(logSoftmax(hidden, promptLength, target.length, g), target, quantity);
            }
        }
        return out;
    }

    /** [targets, vocab]: log-probs of row {@code row} at the positions that predict each target token. */
    private NDArray logSoftmax(NDArray hidden, int promptLength, int targets, int row) {
        long len = hidden.getShape().get(1);
        long[] positions = new long[targets];
        for (int t = 0; t < targets; t++) {
            positions[t] = row * len + promptLength - 1 + t;
        }
        return model.logSoftmaxAt(hidden, positions);
    }

    /** The quantity at every target token t, from row t of {@code logProbs}. */
    private static double[] f(NDArray logProbs, long[] target, Quantity quantity) {
        double[] out = new double[target.length];
        for (int t = 0; t < target.length; t++) {
            out[t] = quantity.at(t, target[t], logProbs.get("{}:{}", t, t + 1)).toType(DataType.FLOAT64, false)
                    .getDouble(0);
        }
        return out;
    }

    /**
     * Rows of the input's first {@code upTo} tokens forwarded from decoder layer {@code startLayer} on
     * the input's residual stream entering it (at full depth: from the token ids, through every
     * layer): hidden states [rows, upTo, hidden].
     */
    private NDArray forward(NDManager scratch, int startLayer, NDArray stream, long[] ids, int rows, int upTo,
            Taps taps) {
        NDArray mask = scratch.ones(new Shape(rows, upTo), DataType.INT64);
        if (fullDepth) {
            NDArray batch = scratch.create(Arrays.copyOf(ids, upTo)).reshape(1, upTo).repeat(0, rows);
            return model.forward(batch, mask, taps, null);
        }
        NDArray x = stream.get(scratch, new NDIndex(":, 0:{}", upTo)).repeat(0, rows); // [rows, upTo, hidden]
        return model.forwardFrom(startLayer, x, mask, taps, null);
    }

    /**
     * A batch of the (group x sample) grid, groups in batch order: one forward with grad from its
     * start layer on the input's residual stream {@code stream} entering it, one backward.
     */
    private void pathBatch(NDManager m, long[] ids, int t, int upTo, long target, List<List<String>> groups,
            List<GradientMethod.PathSample> samples, Batch batch, NDArray stream, Map<String, NDArray> start,
            Map<String, NDArray> end, Quantity quantity, Random random, Map<String, NDArray> acc) {
        int from = batch.from();
        int to = batch.to();
        int rows = to - from;
        try (NDManager scratch = m.newSubManager()) {
            Taps taps = Taps.capturing(Set.of());
            // NDArray.equals compares contents (and hashCode is 0): keep leaves in a list, not as map keys
            List<Leaf> leaves = new ArrayList<>();
            double[] weights = new double[rows];
            // rows of one group are contiguous in the grid, so each group's layers get one block
            for (int g = from / samples.size(); g <= (to - 1) / samples.size(); g++) {
                int blockFrom = Math.max(from, g * samples.size());
                int blockTo = Math.min(to, (g + 1) * samples.size());
                List<GradientMethod.PathSample> block = new ArrayList<>();
                for (int r = blockFrom; r < blockTo; r++) {
                    block.add(samples.get(r % samples.size()));
                    weights[r - from] = block.get(block.size() - 1).weight();
                }
                for (String layer : groups.get(g)) {
                    // views in the batch's scratch manager, so that everything derived from them is freed per batch
                    NDArray s = start.get(layer).get(scratch, new NDIndex(":, 0:{}", upTo));
                    NDArray e = end.get(layer).get(scratch, new NDIndex(":, 0:{}", upTo));
                    Leaf leaf = pathPoints(scratch, layer, s, e, block);
                    taps.replaceRows(layer, leaf.value(), blockFrom - from);
                    leaves.add(leaf);
                }
            }
            Autograd.withGrad(() -> {
                NDArray hidden = forward(scratch, batch.startLayer(), stream, ids, rows, upTo, taps);
                long[] last = new long[rows];
                for (int r = 0; r < rows; r++) {
                    last[r] = (long) r * upTo + upTo - 1;
                }
                NDArray fRows = quantity.at(t, target, model.logSoftmaxAt(hidden, last));
                Autograd.backward(fRows.mul(scratch.create(weights).toType(fRows.getDataType(), false)).sum(), false);
                return null;
            });
            work.forward(rows, upTo, 0, rows, batch.forwardLayers(model.config(), fullDepth));
            work.backward(rows, upTo, rows, batch.backwardLayers(model.config()));
            for (Leaf leaf : leaves) {
                NDArray contribution = model.toWideType(Autograd.gradient(leaf.value()))
                        .mul(model.toWideType(leaf.delta())).sum(new int[] {0}, true);
                NDArray previous = acc.get(leaf.layer());
                NDArray total = previous.add(contribution);
                total.attach(m);
                previous.close();
                acc.put(leaf.layer(), total);
            }
        }
    }

    /**
     * One block's points on the path from {@code s} to {@code e} [1, upTo, hidden], s + alpha (end -
     * s) for each sample, as one differentiable leaf [samples, upTo, hidden], with the (end - s) each
     * multiplies. Without noise every sample shares one end: one delta, and every point in one
     * broadcast product (a handful of operations whatever the sample count; on a GPU the alphas are
     * one copy to the device, not one per sample). With noise each sample draws its own end.
     */
    private Leaf pathPoints(NDManager scratch, String layer, NDArray s, NDArray e,
            List<GradientMethod.PathSample> block) {
        if (block.stream().allMatch(p -> p.noiseStdev() == 0)) {
            NDArray delta = e.sub(s);
            double[] alphas = block.stream().mapToDouble(GradientMethod.PathSample::alpha).toArray();
            NDArray alpha = model.toModelType(scratch.create(alphas, new Shape(alphas.length, 1, 1)));
            return new Leaf(layer, Autograd.leaf(s.add(delta.mul(alpha))), delta);
        }
        List<NDArray> points = new ArrayList<>();
        List<NDArray> deltas = new ArrayList<>();
        for (GradientMethod.PathSample p : block) {
            NDArray endPoint = p.noiseStdev() > 0
                    ? e.add(model.toModelType(scratch.randomNormal(0, (float) p.noiseStdev(), e.getShape(),
                            model.wideType())))
                    : e;
            NDArray delta = endPoint.sub(s);
            deltas.add(delta);
            points.add(s.add(delta.mul(p.alpha())));
        }
        return new Leaf(layer, Autograd.leaf(NDArrays.concat(new NDList(points))), NDArrays.concat(new NDList(deltas)));
    }

    private PositionAttribution tokenResult(int t, int upTo, double logProb, double fInput, double[][] fBaseline,
            List<List<String>> groups, int steps, Map<String, NDArray> acc) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, double[]> norms = new LinkedHashMap<>();
        Map<String, NDArray> unreduced = new LinkedHashMap<>();
        Map<String, double[]> totals = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : acc.entrySet()) {
            NDArray attr = e.getValue().reshape(upTo, -1);
            sums.put(e.getKey(), attr.sum(new int[] {1}).toType(DataType.FLOAT64, false).toDoubleArray());
            norms.put(e.getKey(), attr.square().sum(new int[] {1}).sqrt().toType(DataType.FLOAT64, false)
                    .toDoubleArray());
            unreduced.put(e.getKey(), attr);
        }
        Map<String, JobListener.IgCheck> checks = new LinkedHashMap<>();
        if (fBaseline != null) {
            for (int g = 0; g < groups.size(); g++) {
                double total = 0;
                for (String layer : groups.get(g)) {
                    for (double v : sums.get(layer)) {
                        total += v;
                    }
                }
                String label = groups.size() == 1 && groups.get(0).size() > 1 ? "joint" : groups.get(g).get(0);
                double delta = total - (fInput - fBaseline[g][t]);
                checks.put(label, new JobListener.IgCheck(fInput, fBaseline[g][t], delta, steps));
            }
        }
        return new PositionAttribution(t, logProb, fInput, sums, norms, unreduced, checks);
    }

    /**
     * A replaced block of one layer's output: the differentiable leaf and the (end - start) it
     * multiplies, one row per sample or one row for all.
     */
    private record Leaf(String layer, NDArray value, NDArray delta) {}

    private static long[] concat(long[] a, long[] b) {
        long[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

}
