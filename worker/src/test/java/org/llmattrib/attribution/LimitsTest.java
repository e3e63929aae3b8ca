package org.llmattrib.attribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.bench.RandomLlama;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.MethodSpec;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;

/**
 * Schema-valid requests that would hold a worker for hours or exhaust its memory are refused by
 * the planner before any work, each with {@code limit_exceeded}, the field, the value and the limit;
 * the seed requests pass the default CPU limits.
 */
class LimitsTest {
    private static final LlamaConfig ONE_B = RandomLlama.llama32OneB(16);
    private static Llama tiny;

    @BeforeAll
    static void load() {
        tiny = TestModels.tinyLlama3(DataType.FLOAT32);
        plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), Limits.cpu());
    }

    private static String request(String input, String rest) {
        return "{\"schema\": \"attribution-request/v1\", \"job_id\": \"absurd\", \"input\": " + input + ", " + rest + "}";
    }

    private static final String TOKENS = "{\"type\": \"tokens\", \"text\": \"Dave lives in Palm Coast\"}";

    private static final String SEED_PROMPT = "{\"type\": \"tokens\", \"text\": \"Dave lives in Palm Coast, FL and is a"
            + " lawyer. His personal interests include\"}";

    private static Job plan(String json, Limits limits) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        return new RequestPlanner(tiny, limits).plan(Protocol.decodeRequest(body), body.length);
    }

    /** Refused by the default CPU limits with the code and field, in well under a second. */
    private static void assertRefusedFast(String json, String field, String... messageParts) {
        long start = System.nanoTime();
        assertThatThrownBy(() -> plan(json, Limits.cpu())).isInstanceOfSatisfying(RequestException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
            assertThat(e.field()).isEqualTo(field);
            assertThat(e.getMessage()).contains(messageParts);
        });
        assertThat((System.nanoTime() - start) / 1e9).as("seconds to refuse").isLessThan(1.0);
    }

    @Test
    void absurdRequestsFailFastWithTheirField() {
        assertRefusedFast(request(TOKENS, "\"target\": \"" + " golf".repeat(40_001) + "\","
                + " \"method\": {\"name\": \"feature_ablation\"}"), "target", "200005 characters", "512 tokens",
                "--max-target-tokens");
        assertRefusedFast(request(TOKENS, "\"target\": \"" + " golf".repeat(600) + "\","
                + " \"method\": {\"name\": \"feature_ablation\"}"), "target", "token count is 600", "512",
                "--max-target-tokens");
        assertRefusedFast(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\","
                + " \"n_steps\": 10000, \"internal_batch_size\": 10000}"), "method.n_steps", "10000", "1000",
                "--max-steps");
        assertRefusedFast(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\","
                + " \"internal_batch_size\": 10000}"), "method.internal_batch_size", "10000", "256", "--max-batch-rows");
        assertRefusedFast(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\","
                + " \"n_steps\": 10000}, \"num_trials\": 1000"), "method.n_steps", "10000");
        assertRefusedFast(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"},"
                + " \"num_trials\": 1000"), "num_trials", "1000", "100", "--max-trials");
        assertRefusedFast(request("{\"type\": \"tokens\", \"text\": \"" + "word ".repeat(20).trim() + "\"}",
                "\"target\": \" golf\", \"method\": {\"name\": \"shapley_values\", \"max_features\": 20}"), "input",
                "2^20", "12 features", "--max-shapley-features");
        assertRefusedFast(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_gradient_shap\","
                + " \"n_samples\": 100000}, \"num_trials\": 1000"), "method.n_samples", "100000", "--max-samples");
        assertRefusedFast(request(TOKENS, "\"method\": {\"name\": \"feature_ablation\"},"
                + " \"generation\": {\"max_new_tokens\": 4096}"), "generation.max_new_tokens", "4096");
        assertRefusedFast(request(TOKENS, "\"target_ids\": " + IntStream.range(0, 600).boxed().toList() + ","
                + " \"method\": {\"name\": \"feature_ablation\"}"), "target_ids", "600");
    }

    @Test
    void thePlannerRefusesAJobAboveTheFlopLimitWithTheEstimate() {
        Limits gigaflop = new Limits(4096, 512, 1000, 1000, 100, 128, 12, 256, 1 << 20, 1e9, 8);
        assertThatThrownBy(() -> plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\":"
                + " \"layer_integrated_gradients\"}"), gigaflop)).isInstanceOfSatisfying(RequestException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                    assertThat(e.field()).isEqualTo("method");
                    assertThat(e.getMessage()).contains("1 layer paths x 50 samples x 1 target tokens",
                            "exceeds this worker's limit 1.0e9 (--max-job-flops)");
                });
    }

    @Test
    void requestBytesAndLayerCountAreLimited() {
        Limits small = new Limits(4096, 512, 1000, 1000, 100, 3, 12, 256, 2000, 1e14, 8);
        String padded = request("{\"type\": \"tokens\", \"text\": \"Dave lives in Palm Coast" + " ".repeat(2000) + "\"}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}");
        assertThatThrownBy(() -> plan(padded, small)).isInstanceOfSatisfying(RequestException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
            assertThat(e.field()).isNull();
            assertThat(e.getMessage()).contains("2000", "--max-request-bytes");
        });
        assertThatThrownBy(() -> plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\":"
                + " \"layer_gradient_x_activation\"}, \"layers\": [\"model.layers.*.mlp\", \"model.embed_tokens\","
                + " \"model.norm\"]"), small)).isInstanceOfSatisfying(RequestException.class, e -> {
                    assertThat(e.field()).isEqualTo("layers");
                    assertThat(e.getMessage()).contains("is 4, above this worker's limit of 3 (--max-layers)");
                });
    }

    /** A limit on a number that the method does not use (n_steps of feature ablation) refuses nothing. */
    @Test
    void onlyTheNumbersTheMethodUsesAreChecked() {
        Limits tenSteps = new Limits(4096, 512, 10, 1000, 100, 128, 12, 256, 1 << 20, 1e14, 8);
        plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\", \"n_steps\": 50}"),
                tenSteps);
        plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_gradient_shap\"}"), tenSteps);
        assertThatThrownBy(() -> plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\":"
                + " \"layer_integrated_gradients\"}"), tenSteps)).isInstanceOfSatisfying(RequestException.class,
                        e -> assertThat(e.getMessage()).isEqualTo("n_steps is 50, above this worker's limit of 10"
                                + " (--max-steps)"));
    }

    /** The schema stops n_steps 1e9 at decoding; the planner refuses it as well when a request skips the schema. */
    @Test
    void aBillionStepsIsRefusedByTheSchemaAndByThePlanner() {
        String json = request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\","
                + " \"n_steps\": 1000000000}");
        assertThatThrownBy(() -> plan(json, Limits.cpu())).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.field()).isEqualTo("method.n_steps"));
        AttributionRequest valid = Protocol.decodeRequest(request(TOKENS, "\"target\": \" golf\", \"method\":"
                + " {\"name\": \"layer_integrated_gradients\"}").getBytes(StandardCharsets.UTF_8));
        MethodSpec billion = new MethodSpec("layer_integrated_gradients", new MethodSpec.Steps(1_000_000_000), null, null,
                null, null, null, null, null, null, null);
        AttributionRequest unchecked = new AttributionRequest(valid.schema(), valid.jobId(), null, valid.input(),
                valid.target(), null, null, billion, null, null, null, null, null, null);
        for (Limits limits : List.of(Limits.cpu(), Limits.gpu())) {
            assertThatThrownBy(() -> new RequestPlanner(tiny, limits).plan(unchecked, 300))
                    .isInstanceOfSatisfying(RequestException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                        assertThat(e.field()).isEqualTo("method.n_steps");
                        assertThat(e.getMessage()).contains("1000000000");
                    });
        }
    }

    /** 65 layers x 4,000 steps on the Llama-3.2-1B shape: some 50 hours on a CPU worker, refused with the estimate. */
    @Test
    void theOneBShapeRefusesSixtyFiveLayersTimesFourThousandSteps() {
        String lig = "\"target\": \" playing golf\", \"method\": {\"name\": \"layer_integrated_gradients\"";
        Job absurd = withSeedLayers(plan(request(SEED_PROMPT, lig + ", \"n_steps\": 4000}"), Limits.gpu()));
        CostEstimate cost = CostEstimate.of(ONE_B, DataType.FLOAT32, absurd);
        // 260,000 rows x 2 (forward, backward to the activations) x ~2 GFLOP per position x ~18 positions
        // x 2 target tokens, each row through the layers from its tap up (on average 8.6 of 16 layers)
        assertThat(cost.flops()).isBetween(1e16, 1e17);
        for (Limits limits : List.of(Limits.cpu(), Limits.gpu())) {
            assertThatThrownBy(() -> limits.checkCost(cost)).isInstanceOfSatisfying(RequestException.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                assertThat(e.field()).isEqualTo("method");
                assertThat(e.getMessage()).matches("estimated 2\\.0e16 FLOPs \\(65 layer paths x 4000 samples x 2"
                        + " target tokens.*\\) exceeds this worker's limit 1\\.0e1[46] \\(--max-job-flops\\)");
            });
        }
        // the same request with one layer and the seed's 50 steps fits a CPU worker on the 1B shape
        Job seedSized = plan(request(SEED_PROMPT, lig + "}"), Limits.cpu());
        Limits.cpu().checkCost(CostEstimate.of(ONE_B, DataType.FLOAT32, seedSized));
    }

    /**
     * Perturbation jobs keep a KV cache per prompt that grows with every target token: 5,001 Lime
     * samples over 518 positions of the 1B shape fit the GPU's FLOP budget but not its memory.
     */
    @Test
    void theOneBShapeRefusesKvCachesBeyondTheMemoryLimit() {
        Job lime = plan(request(TOKENS, "\"target\": \"" + " golf".repeat(512) + "\", \"method\": {\"name\": \"lime\","
                + " \"n_samples\": 5000}"), Limits.gpu());
        CostEstimate cost = CostEstimate.of(ONE_B, DataType.FLOAT32, lime);
        assertThat(cost.flops()).isLessThan(Limits.gpu().maxJobFlops());
        // 5,001 prompts x 518 positions x 16 layers x 2 (keys, values) x 8 heads x 64 x 4 bytes
        assertThat(cost.kvCacheBytes()).isEqualTo(5001.0 * 518 * 16 * 2 * 8 * 64 * 4);
        // a bfloat16 model's keys and values take 2 bytes
        assertThat(CostEstimate.of(ONE_B, DataType.BFLOAT16, lime).kvCacheBytes()).isEqualTo(cost.kvCacheBytes() / 2);
        assertThatThrownBy(() -> Limits.gpu().checkCost(cost)).isInstanceOfSatisfying(RequestException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
            assertThat(e.field()).isEqualTo("method");
            assertThat(e.getMessage()).isEqualTo("estimated 158.1 GiB of KV caches (5001 perturbed prompts of 6 tokens"
                    + " x 512 target tokens) exceeds this worker's limit of 64 GiB (--max-kv-cache-gib)");
        });
    }

    @Test
    void theSeedRequestsPassTheDefaultCpuLimits() throws IOException {
        for (String name : List.of("seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
                "seed-lig-embeddings", "seed-lig-multilayer")) {
            Job job = plan(Protocol.JSON.writeValueAsString(example(name)), Limits.cpu());
            assertThat(CostEstimate.of(tiny.model().config(), tiny.model().dtype(), job).flops()).as(name)
                    .isLessThan(Limits.cpu().maxJobFlops());
        }
    }

    /**
     * On Llama-3.2-1B, the seed requests fit a CPU worker except the multi-layer one, whose globs
     * expand to 65 layers there (1.1e14 FLOPs, some 30 minutes on 2 cores); a GPU worker takes all.
     */
    @Test
    void onTheOneBShapeOnlyTheSixtyFiveLayerSeedNeedsAGpu() throws IOException {
        for (String name : List.of("seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
                "seed-lig-embeddings", "seed-lig-multilayer")) {
            Job job = plan(Protocol.JSON.writeValueAsString(example(name)), Limits.cpu());
            if (name.equals("seed-lig-multilayer")) {
                job = withSeedLayers(job);
            }
            CostEstimate cost = CostEstimate.of(ONE_B, DataType.FLOAT32, job);
            Limits.gpu().checkCost(cost);
            if (name.equals("seed-lig-multilayer")) {
                assertThatThrownBy(() -> Limits.cpu().checkCost(cost)).isInstanceOf(RequestException.class);
            } else {
                Limits.cpu().checkCost(cost);
            }
        }
    }

    /** The job with the seed's 65 layers on the 1B shape (its globs expand to 9 on the tiny model). */
    private static Job withSeedLayers(Job job) {
        List<String> layers = Stream.concat(Stream.of("model.embed_tokens"), IntStream.range(0, 16).boxed()
                .flatMap(i -> Stream.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp")
                        .map(tap -> "model.layers." + i + "." + tap))).toList();
        return new Job(job.jobId(), job.features(), job.target(), job.maxNewTokens(), job.method(), layers, job.joint(),
                job.quantity(), job.trials(), job.reduce(), job.seed(), job.batchRows(), job.deadline());
    }

    /**
     * The estimate is an upper bound of what the engine measures (it merges identical perturbed
     * prompts and shares their prefix; the estimate does not), and not a loose one.
     */
    @Test
    void theEstimateIsCloseAboveWhatTheEngineMeasures() throws IOException {
        AttributionEngine engine = new AttributionEngine(tiny, null);
        for (String name : List.of("seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
                "seed-lig-embeddings", "seed-lig-multilayer")) {
            ObjectNode node = example(name);
            if (!node.has("target")) {
                node.put("target", " Positive"); // generation is not part of the measured work
            }
            Job job = plan(Protocol.JSON.writeValueAsString(node), Limits.cpu());
            JobListener.Completion[] done = new JobListener.Completion[1];
            engine.run(job, new JobListener() {
                @Override
                public void accepted(List<String> features, List<String> targetTokens) {}

                @Override
                public void token(TokenResult token) {}

                @Override
                public void completed(Completion completion) {
                    done[0] = completion;
                }
            }, () -> {});
            double measured = done[0].work().get("flops").doubleValue();
            double estimated = CostEstimate.of(tiny.model().config(), tiny.model().dtype(), job).flops();
            assertThat(estimated / measured).as(name + ": estimated " + estimated + ", measured " + measured)
                    .isBetween(1.0, 2.0);
            if (job.method() instanceof Job.Gradient) {
                // the same rows through the same layers, counted before and after
                assertThat(estimated).as(name).isEqualTo(measured);
            }
        }
    }

    static ObjectNode example(String name) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            return (ObjectNode) Protocol.JSON.readTree(in);
        }
    }
}
