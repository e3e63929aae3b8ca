package org.llmattrib.bench;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.Libtorch;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TinyLlama;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.JobRunner;

/**
 * The fidelity checks of an install, runnable from the jar: every attribution method, through the
 * same request path as the service (the five seed requests as they are, and the other methods on
 * the first one's prompt), on a tiny random checkpoint with a byte tokenizer written here, on the
 * device and in the type under test, against the same requests on the float64 model on the CPU.
 * A check's error is max |attr - attr_fp64| / max |attr_fp64| over every target token, feature
 * and layer of the job; it passes within the bound of its type.
 */
public final class SelfTest {
    /** A request by name: a seed example, possibly edited. */
    record Check(String name, String example, Consumer<ObjectNode> edit) {}

    /** One check's outcome; {@code error} is NaN when the job did not complete, {@code problem} says why. */
    public record Result(String name, int tokens, double scale, double error, double bound, String problem,
            double referenceSeconds, double seconds) {
        public boolean passed() {
            return problem == null && error <= bound;
        }
    }

    private SelfTest() {}

    /**
     * The bound of a type, against the float64 path. float32: 1e-5. bfloat16: 0.2, the bound the
     * bfloat16 fidelity tests hold against float32 (measured up to 0.13). float16: its 3 more
     * mantissa bits give errors some 8 times smaller; 0.05.
     */
    public static double bound(Precision dtype) {
        return switch (dtype) {
            case FLOAT32 -> 1e-5;
            case BFLOAT16 -> 0.2;
            case FLOAT16 -> 0.05;
        };
    }

    /**
     * The bound on {@code device}: float32 on a GPU whose matrix products run in TF32 ({@link
     * Libtorch#tf32}) gets float16's, TF32 keeping float16's 10 mantissa bits.
     */
    public static double bound(Precision dtype, String device) {
        return tf32Products(dtype, device) ? bound(Precision.FLOAT16) : bound(dtype);
    }

    /** float32 on a GPU whose matrix products run in TF32. */
    private static boolean tf32Products(Precision dtype, String device) {
        return dtype == Precision.FLOAT32 && !device.equals("cpu") && Libtorch.tf32();
    }

    /**
     * The seed requests (the gradient ones with fewer steps and target tokens, since a byte
     * vocabulary makes every text some four times as many tokens as Llama 3's), then each other
     * method on a short token prompt.
     */
    static List<Check> checks() {
        List<Check> checks = new ArrayList<>();
        for (String name : Examples.SEED_REQUESTS) {
            checks.add(new Check(name, name, n -> {
                if (n.path("method").path("name").asText().equals("layer_integrated_gradients")) {
                    n.put("target", " playing");
                    ((ObjectNode) n.get("method")).put("n_steps", name.contains("multilayer") ? 4 : 10);
                }
            }));
        }
        List<Check> others = List.of(
                new Check("shapley_value_sampling", "", n -> method(n, "shapley_value_sampling").put("n_samples", 3)
                        .put("seed", 7)),
                new Check("kernel_shap", "", n -> method(n, "kernel_shap").put("n_samples", 60).put("seed", 7)),
                new Check("lime", "", n -> method(n, "lime").put("n_samples", 60).put("seed", 7)),
                new Check("layer_gradient_x_activation", "", n -> {
                    method(n, "layer_gradient_x_activation");
                    n.putArray("layers").add("model.embed_tokens").add("model.layers.*.mlp");
                }),
                new Check("layer_gradient_shap", "", n -> {
                    method(n, "layer_gradient_shap").put("n_samples", 8).put("stdevs", 0.0).put("seed", 7);
                    n.putArray("layers").add("model.embed_tokens").add("model.layers.0.self_attn.v_proj");
                }));
        for (Check c : others) {
            checks.add(new Check(c.name(), "seed-token-feature-ablation", n -> {
                ((ObjectNode) n.get("input")).put("text", "Dave lives in Palm Coast, FL");
                n.put("target", " playing golf");
                c.edit().accept(n);
            }));
        }
        return checks;
    }

    private static ObjectNode method(ObjectNode request, String name) {
        ObjectNode method = request.putObject("method");
        method.put("name", name);
        return method;
    }

    /**
     * Writes the checkpoint, runs every check on {@code device} in {@code dtype} and on the CPU in
     * float64, prints a line per check and returns the results.
     *
     * @param bound the largest error allowed, or NaN for the type's {@link #bound}
     * @param only the names of the checks to run; empty: all
     */
    public static List<Result> run(String device, Precision dtype, double bound, List<String> only, PrintStream out) {
        double limit = Double.isNaN(bound) ? bound(dtype, device) : bound;
        List<String> names = checks().stream().map(Check::name).toList();
        for (String name : only) {
            if (!names.contains(name)) {
                throw new IllegalArgumentException("--checks: no check named '" + name + "'; the checks: "
                        + String.join(", ", names));
            }
        }
        List<Check> checks = checks().stream().filter(c -> only.isEmpty() || only.contains(c.name())).toList();
        Path dir = null;
        try {
            dir = Files.createTempDirectory("attrib-selftest");
            TinyLlama.Spec spec = TinyLlama.Spec.bytes(11);
            TinyLlama.write(dir, spec, null);
            TinyLlama.writeByteTokenizer(dir);
            out.printf("checkpoint: tiny random Llama (hidden %d, %d layers, %d heads / %d KV heads, a vocabulary"
                    + " of the 256 bytes and 3 specials), written to %s%n", spec.hidden(), spec.layers(),
                    spec.heads(), spec.kvHeads(), dir);
            out.printf("each check: max |attr - attr_fp64| / max |attr_fp64| over its target tokens, features and"
                    + " layers, %s %s%s against float64 on the cpu; bound %.0e%n%n", device, dtype,
                    tf32Products(dtype, device) ? " (TF32 products)" : "",
                    limit);
            try (Llama reference = Llama.load(dir, "cpu", DataType.FLOAT64);
                    Llama subject = Llama.load(dir, device, dtype.dataType())) {
                JobRunner referenceRunner = runner(reference);
                JobRunner subjectRunner = runner(subject);
                out.printf("%-28s %6s %10s %10s %8s %7s %7s  %s%n", "check", "tokens", "max |ref|", "error", "bound",
                        "fp64 s", "s", "result");
                List<Result> results = new ArrayList<>();
                for (Check check : checks) {
                    Result r = compare(check, referenceRunner, subjectRunner, limit);
                    out.printf("%-28s %6d %10.4f %10.2e %8.0e %7.2f %7.2f  %s%n", r.name(), r.tokens(), r.scale(),
                            r.error(), r.bound(), r.referenceSeconds(), r.seconds(),
                            r.passed() ? "ok" : "MISS" + (r.problem() == null ? "" : ": " + r.problem()));
                    results.add(r);
                }
                return results;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            delete(dir);
        }
    }

    private static JobRunner runner(Llama llama) {
        return new JobRunner(new AttributionEngine(llama, null), new RequestPlanner(llama, Limits.gpu()), "selftest");
    }

    /** The check on both models; a generated target is generated by the reference and given to the subject. */
    private static Result compare(Check check, JobRunner reference, JobRunner subject, double bound) {
        ObjectNode request = (ObjectNode) Examples.read(check.example());
        request.put("job_id", "selftest-" + check.name());
        check.edit().accept(request);
        Outcome want = run(reference, request);
        if (want.problem() != null) {
            return new Result(check.name(), 0, Double.NaN, Double.NaN, bound, "float64 reference: " + want.problem(),
                    want.seconds(), Double.NaN);
        }
        if (request.has("generation")) {
            request.remove("generation");
            request.putArray("target_ids").addAll(want.done().outputTokenIds().stream()
                    .map(Protocol.JSON.getNodeFactory()::numberNode).toList());
        }
        Outcome got = run(subject, request);
        double[] w = numbers(want.tokens());
        double[] g = numbers(got.tokens());
        String problem = got.problem() != null ? got.problem()
                : w.length != g.length ? g.length + " numbers where the reference has " + w.length : null;
        double scale = 0;
        double diff = problem != null ? Double.NaN : 0;
        for (int i = 0; problem == null && i < w.length; i++) {
            scale = Math.max(scale, Math.abs(w[i]));
            diff = Math.max(diff, Math.abs(g[i] - w[i]));
        }
        if (problem == null && Double.isNaN(diff)) {
            problem = "not a number";
        }
        return new Result(check.name(), want.tokens().size(), scale, diff / scale, bound, problem, want.seconds(),
                got.seconds());
    }

    private record Outcome(List<AttributionEvent.Token> tokens, AttributionEvent.Completed done, String problem,
            double seconds) {}

    private static Outcome run(JobRunner runner, ObjectNode request) {
        List<AttributionEvent> events = new ArrayList<>();
        long start = System.nanoTime();
        runner.run(Protocol.encode(request), Map.of(), () -> false, () -> false, events::add);
        double seconds = (System.nanoTime() - start) / 1e9;
        AttributionEvent last = events.get(events.size() - 1);
        if (last instanceof AttributionEvent.Failed f) {
            return new Outcome(List.of(), null, f.code() + ": " + f.message(), seconds);
        }
        List<AttributionEvent.Token> tokens = events.stream().filter(AttributionEvent.Token.class::isInstance)
                .map(AttributionEvent.Token.class::cast).sorted(Comparator.comparingInt(AttributionEvent.Token::index))
                .toList();
        return new Outcome(tokens, (AttributionEvent.Completed) last, null, seconds);
    }

    /** Every attribution of the job in one order: per token, its features, then each layer's (by name). */
    private static double[] numbers(List<AttributionEvent.Token> tokens) {
        List<Double> all = new ArrayList<>();
        for (AttributionEvent.Token t : tokens) {
            if (t.attr() != null) {
                all.addAll(t.attr());
            }
            if (t.layers() != null) {
                new TreeMap<>(t.layers()).values().forEach(all::addAll);
            }
        }
        return all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder left behind
        }
    }
}
