package org.llmattrib.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Job;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.Work;
import org.llmattrib.attribution.perturbation.PerturbedScorer;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.ForwardBatcher;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaModel;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.llama.Precision;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.JobRunner;

/**
 * The seed notebook's requests through the engine, with what they cost beside what Captum's
 * schedule would cost for the same job: one perturbation per incremental generation (batch 1), and
 * for gradients T x (n_steps + 2) forwards and T x n_steps backwards at lengths L + t. "Captum s"
 * is measured: one evaluation at batch 1 on this machine, times Captum's number of evaluations.
 */
public final class AttributionBenchmark {
    private AttributionBenchmark() {}

    /** A seed request, possibly cut down so that the large model stays within minutes on 2 cores. */
    public record Case(String example, Consumer<ObjectNode> edit, String note) {}

    public static void run(Llama llama, List<Case> cases, PrintStream out) {
        RequestPlanner planner = new RequestPlanner(llama, llama.model().manager().getDevice().isGpu() ? Limits.gpu()
                : Limits.cpu());
        JobRunner runner = new JobRunner(new AttributionEngine(llama, null), planner, "bench");
        out.printf("%-28s %7s %7s %5s %5s %9s %8s %12s %8s  %s%n", "request", "total s", "first s", "fwd", "bwd",
                "GFLOP", "GFLOP/s", "Captum GFLOP", "Captum s", "note");
        for (Case c : cases) {
            ObjectNode node = (ObjectNode) Examples.read(c.example());
            c.edit().accept(node);
            byte[] body = Protocol.encode(node);
            List<AttributionEvent> events = new ArrayList<>();
            runner.run(body, Map.of(), () -> false, () -> false, events::add);
            AttributionEvent last = events.get(events.size() - 1);
            if (!(last instanceof AttributionEvent.Completed done)) {
                out.printf("%-28s failed: %s%n", c.example(), ((AttributionEvent.Failed) last).message());
                continue;
            }
            double total = done.timings().get("total_ms") / 1000;
            double first = done.timings().get("first_token_ms") / 1000;
            double gflop = done.work().get("flops").doubleValue() / 1e9;
            Job job = planner.plan(Protocol.decodeRequest(body), body.length);
            long[] target = done.outputTokenIds().stream().mapToLong(Long::longValue).toArray();
            double captum = captumFlops(llama.model(), job, target.length) / 1e9;
            String captumSeconds = job.method() instanceof Job.Perturbation
                    ? String.format("%8.1f", evaluations(job) * oneEvaluationSeconds(llama, job, target)) : "       -";
            out.printf("%-28s %7.2f %7.2f %5d %5d %9.1f %8.1f %12.1f %s  %s%n", c.example(), total, first,
                    done.work().get("forwards").longValue(), done.work().get("backwards").longValue(), gflop,
                    gflop / total, captum, captumSeconds, c.note());
        }
    }

    /** FLOPs of Captum's schedule for the same job (same FLOP model as ours). */
    static double captumFlops(LlamaModel model, Job job, int targetLength) {
        long prompt = job.features().fullPrompt().length;
        int n = job.features().featureCount();
        if (job.method() instanceof Job.Gradient) {
            double perToken = 0;
            int steps = stepsOf(job);
            for (int t = 0; t < targetLength; t++) {
                long len = prompt + t;
                perToken += (steps + 2) * model.forwardFlops(len, (len + 1) / 2, 1)
                        + steps * model.config().backwardFlops(len, (len + 1) / 2, 1, model.config().numLayers());
            }
            return perToken;
        }
        double generation = model.forwardFlops(prompt, (prompt + 1) / 2, 1);
        for (int t = 1; t < targetLength; t++) {
            generation += model.forwardFlops(1, prompt + t, 1);
        }
        return evaluations(job) * generation;
    }

    /** Captum's forward evaluations of a perturbation job: each an incremental generation at batch 1. */
    static long evaluations(Job job) {
        int n = job.features().featureCount();
        long perTrial = switch (job.method().name()) {
            case "feature_ablation" -> 1 + n;
            case "shapley_values" -> 1 + factorial(n) * n;
            case "shapley_value_sampling" -> 1 + (long) samplesOf(job) * n;
            default -> samplesOf(job);
        };
        return perTrial * job.trials();
    }

    /** Measured: one perturbed prompt scored alone (batch 1, prompt then target token by token), as Captum does. */
    static double oneEvaluationSeconds(Llama llama, Job job, long[] target) {
        PerturbedScorer scorer = new PerturbedScorer(new ForwardBatcher(llama.model()), 1, new Work(llama.model()),
                () -> {});
        double best = Double.MAX_VALUE;
        for (int repeat = 0; repeat < 2; repeat++) {
            try (ai.djl.ndarray.NDManager m = llama.model().manager().newSubManager()) {
                long start = System.nanoTime();
                scorer.score(List.of(job.features().fullPrompt()), target, job.quantity(), m, (t, values, lp) -> {});
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
        }
        return best;
    }

    private static int stepsOf(Job job) {
        return ((Job.Gradient) job.method()).method().samples(new java.util.Random(0)).size();
    }

    private static int samplesOf(Job job) {
        return ((Job.Perturbation) job.method()).method().plan(job.features().featureCount(), new java.util.Random(0))
                .coalitions().size() / (job.method().name().equals("shapley_value_sampling")
                        ? job.features().featureCount() + 1 : 1);
    }

    private static long factorial(int n) {
        long f = 1;
        for (int i = 2; i <= n; i++) {
            f *= i;
        }
        return f;
    }

    /** The seed requests as they are (small model). */
    public static List<Case> seedCases() {
        List<Case> cases = new ArrayList<>();
        for (String name : List.of("seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
                "seed-lig-embeddings", "seed-lig-multilayer")) {
            cases.add(new Case(name, n -> {}, "as in the seed"));
        }
        return cases;
    }

    /** The seed requests cut to fit a 2-core CPU on the 1B shape, with how cost scales. */
    public static List<Case> largeCases() {
        return List.of(
                new Case("seed-token-feature-ablation", n -> {}, "as in the seed; cost ~ (1 + features) x target"),
                new Case("seed-template-shapley", n -> {}, "as in the seed; cost ~ 2^features x trials"),
                new Case("seed-fewshot-segments", n -> {}, "as in the seed; cost ~ 2^segments"),
                new Case("seed-lig-embeddings", n -> {
                    n.put("target", " playing golf");
                    ((ObjectNode) n.get("method")).put("n_steps", 8).put("internal_batch_size", 8);
                }, "n_steps 8 (seed 50), 2 target tokens: cost ~ steps x sum_t (L+t)"),
                new Case("seed-lig-multilayer", n -> {
                    n.put("target", " playing");
                    n.putArray("layers").add("model.embed_tokens").add("model.layers.0.self_attn.q_proj")
                            .add("model.layers.0.self_attn.k_proj").add("model.layers.0.self_attn.v_proj")
                            .add("model.layers.0.mlp");
                    ((ObjectNode) n.get("method")).put("n_steps", 4).put("internal_batch_size", 20);
                }, "5 of the example's 65 layers, n_steps 4, 1 token: cost ~ layers x steps x sum_t (L+t)"));
    }

    /** Llama-3.2-1B's shape with random weights on {@code device} and the real Llama 3 tokenizer. */
    public static Llama randomOneB(int layers, Path tokenizer, String device, Precision dtype) {
        LlamaModel model = RandomLlama.create(RandomLlama.llama32OneB(layers), 1, device, dtype.dataType());
        return new Llama(model, LlamaTokenizer.load(tokenizer, 128000), Set.of(128001L), Path.of("random-llama-3.2-1b"));
    }
}
