package org.llmattrib.attribution;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.llmattrib.attribution.gradient.LayerGradientEngine;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.attribution.perturbation.PerturbationRunner;
import org.llmattrib.attribution.perturbation.PerturbedScorer;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Llama;

/**
 * Runs one {@link Job} on the resident model and reports each target token's attributions as soon
 * as they are final. The meaning is Captum's LLMAttribution / LLMGradientAttribution; see
 * docs/attribution.md.
 */
public final class AttributionEngine {
    private final Llama llama;
    private final ForwardBatcher batcher;
    private final ResultStore resultStore;

    /** @param resultStore where unreduced tensors go; null when the worker has none */
    public AttributionEngine(Llama llama, ResultStore resultStore) {
        this.llama = llama;
        this.batcher = new ForwardBatcher(llama.model());
        this.resultStore = resultStore;
    }

    public Llama llama() {
        return llama;
    }

    /** Where the perturbation forwards of all jobs on this engine go. */
    public ForwardBatcher batcher() {
        return batcher;
    }

    /**
     * @param checkpoint called between model steps; throws to stop the job
     * @throws RequestException when the job cannot run as asked
     */
    public void run(Job job, JobListener listener, Runnable checkpoint) {
        long start = System.nanoTime();
        if (job.reduce() == Job.Reduce.NONE && resultStore == null) {
            throw RequestException.invalid("reduce", "reduce 'none' needs a result store for the unreduced tensors;"
                    + " this worker has none (start it with --result-store)");
        }
        listener.accepted(job.features().valueTexts(), job.target() == null ? null : tokenTexts(job.target()));
        long[] target = job.target() != null ? job.target()
                : llama.generate(job.features().fullPrompt(), job.maxNewTokens(), true, checkpoint);
        if (target.length == 0) {
            throw RequestException.invalid("target", "the target is empty: nothing to attribute");
        }
        job.quantity().check(target);
        Work work = new Work(llama.model());
        long[] firstTokenNanos = {0};
        Consumer<JobListener.TokenResult> emit = token -> {
            if (token.index() == 0) {
                firstTokenNanos[0] = System.nanoTime() - start;
            }
            listener.token(token);
        };
        Result result;
        try (NDManager m = llama.model().manager().newSubManager()) {
            result = job.method() instanceof Job.Perturbation p
                    ? perturbation(job, p, target, work, checkpoint, m, emit)
                    : gradient(job, (Job.Gradient) job.method(), target, work, checkpoint, m, emit);
        }
        Map<String, Double> timings = new LinkedHashMap<>();
        timings.put("first_token_ms", firstTokenNanos[0] / 1e6);
        timings.put("total_ms", (System.nanoTime() - start) / 1e6);
        listener.completed(new JobListener.Completion(result.seqAttr(), tokenTexts(target), target,
                result.layersSeqAttr(), timings, work.toMap()));
    }

    private record Result(double[] seqAttr, Map<String, double[]> layersSeqAttr) {}

    private Result perturbation(Job job, Job.Perturbation p, long[] target, Work work, Runnable checkpoint,
            NDManager m, Consumer<JobListener.TokenResult> emit) {
        PerturbationRunner runner = new PerturbationRunner(new PerturbedScorer(batcher, job.batchRows(), work,
                checkpoint));
        double[] seq = runner.run(job.features(), target, p.method(), job.trials(), job.quantity(), new Random(job.seed()),
                m, (t, logProb, attr) -> emit.accept(new JobListener.TokenResult(t, target[t], tokenText(target[t]),
                        logProb, attr, null, null, null)));
        return new Result(seq, null);
    }

    private Result gradient(Job job, Job.Gradient g, long[] target, Work work, Runnable checkpoint, NDManager m,
            Consumer<JobListener.TokenResult> emit) {
        if (!(job.features() instanceof TokenFeatures tokens)) {
            throw RequestException.invalid("input.type", "gradient methods attribute to prompt tokens: use input type"
                    + " 'tokens' (Captum's LLMGradientAttribution supports TextTokenInput only)");
        }
        long[] prompt = tokens.fullPrompt();
        long[] baseline = tokens.render(new boolean[tokens.featureCount()], null);
        int[][] groups = tokens.positionGroups();
        Map<String, double[]> layersSeq = new LinkedHashMap<>();
        job.layers().forEach(l -> layersSeq.put(l, new double[groups.length]));
        new LayerGradientEngine(llama.model(), work, checkpoint).run(prompt, baseline, target, job.layerPaths(),
                g.method(), job.quantity(), job.batchRows(), job.seed(), m, r -> {
                    Map<String, double[]> rows = new LinkedHashMap<>();
                    Map<String, String> tensors = job.reduce() == Job.Reduce.NONE ? new LinkedHashMap<>() : null;
                    for (String layer : job.layers()) {
                        double[] row = perFeature(job.reduce(), r.positionSums().get(layer),
                                r.positionNorms().get(layer), groups);
                        for (int f = 0; f < groups.length; f++) {
                            layersSeq.get(layer)[f] += row[f];
                        }
                        rows.put(layer, row);
                        if (tensors != null) {
                            tensors.put(layer, resultStore.write(job.jobId(), r.index(), layer, r.unreduced().get(layer)));
                        }
                    }
                    Map<String, JobListener.IgCheck> ig = r.checks().isEmpty() ? null : r.checks();
                    emit.accept(new JobListener.TokenResult(r.index(), target[r.index()], tokenText(target[r.index()]),
                            r.logProb(), rows.get(job.layers().get(0)), rows, ig, tensors));
                });
        return new Result(layersSeq.get(job.layers().get(0)), layersSeq);
    }

    /**
     * A feature's attribution from its positions': the sum of their sums over the hidden dimension,
     * or for L2 the norm over all their elements (a one-token feature: that position's norm).
     */
    private static double[] perFeature(Job.Reduce reduce, double[] sums, double[] norms, int[][] groups) {
        double[] row = new double[groups.length];
        for (int f = 0; f < groups.length; f++) {
            double total = 0;
            for (int p : groups[f]) {
                total += reduce == Job.Reduce.L2 ? norms[p] * norms[p] : sums[p];
            }
            row[f] = reduce != Job.Reduce.L2 ? total : groups[f].length == 1 ? norms[groups[f][0]] : Math.sqrt(total);
        }
        return row;
    }

    private List<String> tokenTexts(long[] ids) {
        List<String> out = new ArrayList<>();
        for (long id : ids) {
            out.add(tokenText(id));
        }
        return out;
    }

    private String tokenText(long id) {
        return llama.tokenizer().map(t -> t.tokenText(id)).orElse("#" + id);
    }
}
