package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;

/**
 * A deadline or a cancel stops a job between model steps, greedy generation included, and a
 * stopped job leaves none of its native arrays (KV caches, activations) behind.
 */
class StoppedJobTest {
    private static final String PROMPT = "{\"type\": \"tokens\", \"text\": \"Dave lives in Palm Coast, FL and is a lawyer.\"}";

    private final Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
    /** Limits that allow the longest generation the schema does (4,096 tokens). */
    private final JobRunner runner = new JobRunner(new AttributionEngine(llama, null),
            new RequestPlanner(llama, Limits.gpu()), "test");

    private static byte[] request(String jobId, String rest) {
        return ("{\"schema\": \"attribution-request/v1\", \"job_id\": \"" + jobId + "\", \"input\": " + PROMPT + ", "
                + rest + "}").getBytes(StandardCharsets.UTF_8);
    }

    private AttributionEvent.Failed runUntilStopped(byte[] request, BooleanSupplier cancelled) {
        List<AttributionEvent> events = new ArrayList<>();
        runner.run(request, Map.of(), cancelled, () -> false, events::add);
        assertThat(events.get(events.size() - 1)).isInstanceOf(AttributionEvent.Failed.class);
        return (AttributionEvent.Failed) events.get(events.size() - 1);
    }

    /** Without a checkpoint between tokens, all 4,096 tokens were generated first (a 5 s deadline answered after 18.7 s). */
    @Test
    void aDeadlineStopsALongGenerationWithinOneTokenStep() {
        llama.generate(new long[] {128000, 9906}, 20, false); // warm up
        long start = System.nanoTime();
        llama.generate(new long[] {128000, 9906}, 20, false);
        double step = (System.nanoTime() - start) / 1e9 / 20;

        start = System.nanoTime();
        AttributionEvent.Failed failed = runUntilStopped(request("deadline", "\"deadline\": \""
                + Instant.now().plusSeconds(1) + "\", \"generation\": {\"max_new_tokens\": 4096},"
                + " \"method\": {\"name\": \"feature_ablation\"}"), () -> false);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(failed.code()).isEqualTo("deadline_exceeded");
        assertThat(failed.field()).isEqualTo("deadline");
        // a token step or two (measured above) plus scheduling slack; generating all 4,096 tokens takes longer
        assertThat(seconds).as("seconds, with token steps of " + step + " s").isLessThan(1.0 + 2 * step + 0.3);
    }

    @Test
    void aCancelStopsALongGeneration() {
        long start = System.nanoTime();
        AttributionEvent.Failed failed = runUntilStopped(request("cancel", "\"generation\": {\"max_new_tokens\": 4096},"
                + " \"method\": {\"name\": \"feature_ablation\"}"), () -> System.nanoTime() - start > 300_000_000L);
        assertThat(failed.code()).isEqualTo("cancelled");
        assertThat((System.nanoTime() - start) / 1e9).isLessThan(1.3);
    }

    /** The job's KV caches grow with every target token; a cancel releases them like a completion does. */
    @Test
    void aCancelledJobLeavesNoNativeArraysBehind() {
        int before = llama.model().manager().getManagedArrays().size();
        String target = "\"target\": \" playing golf, hiking, and cooking.\", ";
        for (String rest : List.of(
                target + "\"method\": {\"name\": \"shapley_value_sampling\", \"perturbations_per_eval\": 8}",
                target + "\"method\": {\"name\": \"layer_integrated_gradients\", \"n_steps\": 8,"
                        + " \"internal_batch_size\": 4}, \"layers\": [\"model.embed_tokens\", \"model.layers.0.mlp\"]",
                "\"generation\": {\"max_new_tokens\": 50}, \"method\": {\"name\": \"feature_ablation\"}")) {
            AtomicInteger polls = new AtomicInteger();
            AttributionEvent.Failed failed = runUntilStopped(request("memory", rest), () -> polls.incrementAndGet() > 6);
            assertThat(failed.code()).as(rest).isEqualTo("cancelled");
            assertThat(llama.model().manager().getManagedArrays()).as("arrays left after cancelling " + rest)
                    .hasSize(before);
        }
    }
}
