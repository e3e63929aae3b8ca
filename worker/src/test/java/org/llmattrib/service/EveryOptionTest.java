package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * Every method with every input shape and option the request schema allows, on the tiny Llama 3
 * checkpoint: each job ends {@code completed} or {@code failed} with a request-level code, never
 * {@code internal} (an internal error is a defect by definition). Kept small (few steps, few
 * samples) so the whole sweep runs in seconds.
 */
class EveryOptionTest {
    private static final List<String> METHODS = List.of("feature_ablation", "shapley_values", "shapley_value_sampling",
            "kernel_shap", "lime", "layer_integrated_gradients", "layer_gradient_x_activation", "layer_gradient_shap");

    /** Input shapes: BOS as a feature, string skip tokens, templates that start with a slot, segments with nothing before. */
    private static final Map<String, String> INPUTS = Map.of(
            "tokens", """
                    {"type": "tokens", "text": "Dave lives in Palm Coast"}""",
            "tokens-bos-is-a-feature", """
                    {"type": "tokens", "text": "Dave lives in Palm Coast", "skip_tokens": []}""",
            "tokens-string-skips-and-baseline", """
                    {"type": "tokens", "text": "Dave lives in Palm Coast", "skip_tokens": ["<|begin_of_text|>", " in", 13],
                     "baseline_token_id": 220}""",
            "template-named-product", """
                    {"type": "template", "template": "{name} lives in {city}, {state}",
                     "values": {"name": "Dave", "city": "Palm Coast", "state": "FL"},
                     "baselines": {"product": {"name": ["Sarah", "John"], "city,state": [["Seattle", "WA"], ["Boston", "MA"]]}},
                     "mask": {"name": 0, "city": 1, "state": 1}}""",
            "template-list", """
                    {"type": "template", "template": "{} lives in {}", "values": ["Dave", "Palm Coast"],
                     "baselines": ["Sarah", "Boston"], "mask": [3, 7]}""",
            "segments-empty-before", """
                    {"type": "segments", "segments": ["The movie was ok", "I loved it"], "separator": " ",
                     "baselines": ["", "x"]}""",
            "chat-tokens", """
                    {"type": "chat", "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Where does Dave live?"}]}""",
            "chat-messages-no-generation-prompt", """
                    {"type": "chat", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " Hello"}],
                     "features": "messages", "add_generation_prompt": false, "baseline_token_id": 220, "date_string": "1 Jan 2026"}""",
            "segments-full", """
                    {"type": "segments", "before": "[INST] ", "prefix": "Examples:\\n", "segments": ["Good Positive", "Bad Negative"],
                     "separator": "\\n", "suffix": "\\n", "after": "Review: great. Reply.[/INST]"}""");

    /** Options that change what or how much is computed, each tried with every method. */
    private static final Map<String, String> OPTIONS = Map.of(
            "target-text", """
                    {"target": " playing golf"}""",
            "target-ids-prob-l2", """
                    {"target_ids": [5, 1000], "attr_target": "prob", "reduce": "l2", "num_trials": 2}""",
            "generated", """
                    {"generation": {"max_new_tokens": 2}}""",
            "layers-joint", """
                    {"target": " golf", "layers": ["model.embed_tokens", "model.layers.*.mlp", "model.layers.0"],
                     "multi_layer": "joint"}""",
            "layers-independent", """
                    {"target": " golf", "layers": ["model.layers.1.self_attn.*"], "multi_layer": "independent"}""",
            "contrast-text", """
                    {"target": " playing golf", "attr_target": {"type": "contrast", "text": " playing tennis"}}""",
            "contrast-one-id-generated", """
                    {"generation": {"max_new_tokens": 2}, "attr_target": {"type": "contrast", "ids": [220]}}""",
            "reduce-none-without-store", """
                    {"target": " golf", "reduce": "none"}""");

    private static Llama llama() {
        return TestModels.tinyLlama3(DataType.FLOAT32);
    }

    static Stream<Arguments> requests() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String method : METHODS) {
            String spec = "{\"name\": \"" + method + "\", \"n_steps\": 3, \"n_samples\": 5, \"internal_batch_size\": 4,"
                    + " \"perturbations_per_eval\": 3, \"seed\": 7"
                    + (method.equals("layer_integrated_gradients") ? ", \"integration\": \"riemann_middle\"" : "") + "}";
            for (Map.Entry<String, String> input : INPUTS.entrySet()) {
                out.add(Arguments.of(method + " / " + input.getKey() + " / target-text",
                        request(input.getValue(), spec, OPTIONS.get("target-text"))));
            }
            for (Map.Entry<String, String> option : OPTIONS.entrySet()) {
                out.add(Arguments.of(method + " / tokens-bos-is-a-feature / " + option.getKey(),
                        request(INPUTS.get("tokens-bos-is-a-feature"), spec, option.getValue())));
            }
        }
        out.add(Arguments.of("layer_integrated_gradients / steps by accuracy", request(INPUTS.get("tokens"),
                "{\"name\": \"layer_integrated_gradients\", \"n_steps\": \"auto\", \"tolerance\": 0.05}",
                OPTIONS.get("layers-independent"))));
        for (String example : List.of("seed-token-feature-ablation", "seed-lig-embeddings", "seed-template-shapley",
                "seed-fewshot-segments")) {
            try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + example + ".json")) {
                ObjectNode node = (ObjectNode) Protocol.JSON.readTree(in);
                out.add(Arguments.of("example " + example, Protocol.JSON.writeValueAsBytes(node)));
            }
        }
        return out.stream();
    }

    private static byte[] request(String input, String method, String options) throws IOException {
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(options);
        node.put("schema", "attribution-request/v1");
        node.put("job_id", "every-option");
        node.set("input", Protocol.JSON.readTree(input));
        node.set("method", Protocol.JSON.readTree(method));
        return Protocol.JSON.writeValueAsBytes(node);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("requests")
    void noSchemaValidRequestEndsInAnInternalError(String label, byte[] body) {
        Protocol.decodeRequest(body); // every case is schema-valid: the sweep tests the engine, not validation
        List<AttributionEvent> events = new ArrayList<>();
        new JobRunner(new AttributionEngine(llama(), null), new RequestPlanner(llama(), Limits.cpu()), "sweep")
                .run(body, Map.of(), () -> false, () -> false, events::add);
        AttributionEvent last = events.get(events.size() - 1);
        if (last instanceof AttributionEvent.Failed f) {
            assertThat(f.code()).as(label + ": " + f.message()).isNotEqualTo("internal");
            assertThat(f.message()).as(label).isNotBlank();
        } else {
            assertThat(last).as(label).isInstanceOf(AttributionEvent.Completed.class);
            long tokens = events.stream().filter(e -> e instanceof AttributionEvent.Token).count();
            assertThat(((AttributionEvent.Completed) last).outputTokens()).as(label).hasSize((int) tokens);
        }
    }
}
