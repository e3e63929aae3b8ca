package org.llmattrib.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.List;
import java.util.function.Consumer;
import org.llmattrib.attribution.CostEstimate;
import org.llmattrib.attribution.Job;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.Work;
import org.llmattrib.attribution.gradient.LayerGradientEngine;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaModel;
import org.llmattrib.protocol.Protocol;

/**
 * Multi-layer integrated gradients with each path row forwarded from its tapped decoder layer up
 * ("after") against every row through the whole model ("before", {@link LayerGradientEngine}'s full
 * depth): model FLOPs of the seed's full request in both modes, and seconds of a cut of it.
 */
public final class MultiLayerBenchmark {
    private MultiLayerBenchmark() {}

    /** @param repeats how many times the cut runs before and after, alternating */
    public static void run(Llama llama, int repeats, PrintStream out) {
        RequestPlanner planner = new RequestPlanner(llama, Limits.gpu());
        out.println("seed-lig-multilayer as in the seed, model FLOPs (CostEstimate; Captum: its schedule, once per"
                + " layer in independent mode)");
        out.printf("%-12s %5s %6s %7s %12s %12s %7s %12s%n", "multi_layer", "taps", "steps", "tokens", "before GFLOP",
                "after GFLOP", "after/", "Captum GFLOP");
        for (String mode : List.of("independent", "joint")) {
            Job job = plan(planner, n -> n.put("multi_layer", mode));
            double after = CostEstimate.of(llama.model().config(), llama.model().dtype(), job).flops() / 1e9;
            double before = CostEstimate.of(llama.model().config(), llama.model().dtype(), job, true).flops() / 1e9;
            double captum = AttributionBenchmark.captumFlops(llama.model(), job, job.target().length) / 1e9
                    * job.layerPaths().size();
            out.printf("%-12s %5d %6d %7d %12.0f %12.0f %7.2f %12.0f%n", mode, job.layers().size(),
                    ((Job.Gradient) job.method()).method().sampleCount(), job.target().length, before, after,
                    after / before, captum);
        }

        out.println();
        out.println("cut: layers model.layers.*.mlp (one tap per decoder layer), n_steps 2, target \" playing\","
                + " internal_batch_size 4, independent; measured in this run, alternating");
        out.printf("%-22s %7s %5s %5s %9s %8s %15s%n", "forward", "total s", "fwd", "bwd", "GFLOP", "GFLOP/s",
                "estimate GFLOP");
        Job cut = plan(planner, n -> {
            n.put("target", " playing");
            n.putArray("layers").add("model.layers.*.mlp");
            ((ObjectNode) n.get("method")).put("n_steps", 2).put("internal_batch_size", 4);
        });
        for (int r = 0; r < repeats; r++) {
            for (boolean fullDepth : List.of(true, false)) {
                runCut(llama.model(), cut, fullDepth, out);
            }
        }
    }

    private static void runCut(LlamaModel model, Job cut, boolean fullDepth, PrintStream out) {
        Work work = new Work(model);
        long start = System.nanoTime();
        runEngine(model, cut, work, fullDepth);
        double seconds = (System.nanoTime() - start) / 1e9;
        double gflop = work.toMap().get("flops").doubleValue() / 1e9;
        double estimate = CostEstimate.of(model.config(), model.dtype(), cut, fullDepth).flops() / 1e9;
        out.printf("%-22s %7.2f %5d %5d %9.1f %8.1f %15.1f%n", fullDepth ? "before: full depth" : "after: from the tap",
                seconds, work.toMap().get("forwards").longValue(), work.toMap().get("backwards").longValue(), gflop,
                gflop / seconds, estimate);
    }

    private static Job plan(RequestPlanner planner, Consumer<ObjectNode> edit) {
        ObjectNode node = (ObjectNode) Examples.read("seed-lig-multilayer");
        edit.accept(node);
        byte[] body = Protocol.encode(node);
        return planner.plan(Protocol.decodeRequest(body), body.length);
    }

    private static void runEngine(LlamaModel model, Job job, Work work, boolean fullDepth) {
        TokenFeatures tokens = (TokenFeatures) job.features();
        try (NDManager m = model.manager().newSubManager()) {
            new LayerGradientEngine(model, work, () -> {}, fullDepth).run(tokens.fullPrompt(),
                    tokens.render(new boolean[tokens.featureCount()], null), job.target(), job.layerPaths(),
                    ((Job.Gradient) job.method()).method(), job.quantity(), job.batchRows(), job.seed(), m, r -> {});
        }
    }
}
