package org.llmattrib.attribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import java.nio.charset.StandardCharsets;
import org.llmattrib.attribution.input.TextFeatures;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.Protocol;
import org.junit.jupiter.api.Test;

/** Requests the engine refuses say which field is wrong; valid ones resolve to the right features. */
class RequestPlannerTest {
    private static final Limits PROMPT_OF_64 = new Limits(64, 512, 1000, 1000, 100, 128, 12, 256, 1 << 20, 1e14, 8);

    private static Job plan(String json) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        return new RequestPlanner(TestModels.tinyLlama3(DataType.FLOAT32), PROMPT_OF_64)
                .plan(Protocol.decodeRequest(body), body.length);
    }

    private static String request(String input, String rest) {
        return "{\"schema\": \"attribution-request/v1\", \"job_id\": \"p\", \"input\": " + input + ", " + rest + "}";
    }

    private static final String TOKENS = "{\"type\": \"tokens\", \"text\": \"Dave lives in Palm Coast\"}";

    private static void assertRefused(String json, String code, String field, String messagePart) {
        assertThatThrownBy(() -> plan(json)).isInstanceOfSatisfying(RequestException.class, e -> {
            assertThat(e.code().wire()).isEqualTo(code);
            assertThat(e.field()).isEqualTo(field);
            assertThat(e.getMessage()).contains(messagePart);
        });
    }

    @Test
    void tokenInputSkipsBosByDefaultAndResolvesGlobs() {
        Job job = plan(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\"},"
                + " \"layers\": [\"model.layers.*.mlp\", \"model.layers.0.mlp\"]"));
        TokenFeatures features = (TokenFeatures) job.features();
        assertThat(features.valueTexts()).containsExactly("Dave", " lives", " in", " Palm", " Coast");
        assertThat(job.layers()).containsExactly("model.layers.0.mlp", "model.layers.1.mlp");
        assertThat(job.target()).hasSize(1);
        Job skipping = plan(request("{\"type\": \"tokens\", \"text\": \"Dave lives\", \"skip_tokens\": [\" lives\", 128000]}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"));
        assertThat(skipping.features().valueTexts()).containsExactly("Dave");
    }

    @Test
    void templateValuesBaselinesAndMaskResolve() {
        Job job = plan(request("{\"type\": \"template\", \"template\": \"{a} and {b} and {c}\","
                + " \"values\": {\"a\": \"x\", \"b\": \"y\", \"c\": \"z\"}, \"mask\": {\"a\": 7, \"b\": 3, \"c\": 7}}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"));
        TextFeatures features = (TextFeatures) job.features();
        assertThat(features.featureCount()).isEqualTo(2);
        assertThat(features.featureOfValue()).containsExactly(1, 0, 1);
        assertThat(features.text(new boolean[] {true, false}, null)).isEqualTo(" and y and ");
    }

    @Test
    void refusedRequestsNameTheirField() {
        assertRefused(request("{\"type\": \"template\", \"template\": \"{a} and {b}\", \"values\": {\"a\": \"x\"}}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request", "input.values",
                "template slot {b} has no value");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{name} lives\", \"values\": {\"name\": \"Dave\","
                + " \"zzz\": \"x\"}}", "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"),
                "invalid_request", "input.values.zzz", "value 'zzz' fills no slot of the template; its slots are [name]");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{a} {b}\", \"values\": [\"x\", \"y\"]}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request", "input.values",
                "the template's slots are named [a, b]: give the values as an object");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{a}\", \"values\": {\"a\": \"x\"},"
                + " \"mask\": {\"a\": 0, \"zz\": 1}}", "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"),
                "invalid_request", "input.mask.zz", "'zz'");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{} {}\", \"values\": [\"x\"]}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request", "input.values",
                "the template has 2 {} slots but 1 values are given");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{a} {b}\", \"values\": {\"a\": \"x\", \"b\": \"y\"},"
                + " \"baselines\": {\"product\": {\"a,q\": [[\"1\", \"2\"]]}}}", "\"target\": \" golf\","
                + " \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request", "input.baselines.product.a,q", "'q'");
        assertRefused(request("{\"type\": \"template\", \"template\": \"{a} {b}\", \"values\": {\"a\": \"x\", \"b\": \"y\"},"
                + " \"baselines\": {\"product\": {\"a\": [\"1\"], \"a,b\": [[\"2\", \"3\"]]}}}", "\"target\": \" golf\","
                + " \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request", "input.baselines.product.a,b",
                "value 'a' is in two groups");
        assertRefused(request("{\"type\": \"tokens\", \"text\": \"" + "word ".repeat(12) + "\"}",
                "\"target\": \" golf\", \"method\": {\"name\": \"shapley_values\", \"max_features\": 8}"),
                "too_many_features", "method.max_features", "2^13 forwards for 13 features");
        assertRefused(request(TOKENS, "\"target\": \"\", \"method\": {\"name\": \"feature_ablation\"}"),
                "invalid_request", "target", "empty");
        assertRefused(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\"},"
                + " \"layers\": [\"model.layers.0.attn\"]"), "unknown_layer", "layers[0]", "valid layers are");
        assertRefused(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"lime\"}, \"layers\": [\"model.norm\"]"),
                "invalid_request", "layers", "gradient methods only");
        assertRefused(request("{\"type\": \"tokens\", \"text\": \"" + "word ".repeat(100) + "\"}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "limit_exceeded", "input",
                "above this worker's limit of 64");
        assertRefused(request(TOKENS, "\"target_ids\": [999999], \"method\": {\"name\": \"feature_ablation\"}"),
                "invalid_request", "target_ids[0]", "outside the vocabulary");
        assertRefused(request(TOKENS, "\"target_ids\": [9906, 128256], \"method\": {\"name\": \"feature_ablation\"}"),
                "invalid_request", "target_ids[1]", "token id 128256 is outside the vocabulary [0, 128256)");
        assertRefused(request("{\"type\": \"tokens\", \"text\": \"Dave lives\", \"baseline_token_id\": 999999}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request",
                "input.baseline_token_id", "token id 999999 is outside the vocabulary");
        assertRefused(request("{\"type\": \"tokens\", \"text\": \"Dave lives\", \"skip_tokens\": [128000, 200000]}",
                "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"}"), "invalid_request",
                "input.skip_tokens[1]", "token id 200000 is outside the vocabulary");
        assertRefused(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"feature_ablation\"},"
                + " \"deadline\": \"tomorrow\""), "invalid_request", "deadline", "ISO-8601");
        assertRefused(request(TOKENS, "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\","
                + " \"attribute_to_layer_input\": true}"), "invalid_request", "method.attribute_to_layer_input",
                "input_layernorm");
    }

    @Test
    void aContrastHasOneTokenPerTargetTokenOrOneForAll() {
        String fa = "\"method\": {\"name\": \"feature_ablation\"}, ";
        Job texts = plan(request(TOKENS, fa + "\"target\": \" playing golf\", \"attr_target\":"
                + " {\"type\": \"contrast\", \"text\": \" playing tennis\"}"));
        assertThat(texts.quantity()).isInstanceOfSatisfying(Quantity.Contrast.class,
                c -> assertThat(c.ids()).hasSize(2));
        Job one = plan(request(TOKENS, fa + "\"target\": \" playing golf\", \"attr_target\":"
                + " {\"type\": \"contrast\", \"ids\": [5]}"));
        assertThat(((Quantity.Contrast) one.quantity()).ids()).containsExactly(5L);
        assertRefused(request(TOKENS, fa + "\"target\": \" playing golf\", \"attr_target\":"
                + " {\"type\": \"contrast\", \"text\": \" tennis is fun\"}"), "invalid_request", "attr_target",
                "the contrast has 3 tokens but the target has 2");
        assertRefused(request(TOKENS, fa + "\"target\": \" golf\", \"attr_target\":"
                + " {\"type\": \"contrast\", \"ids\": [99999999]}"), "invalid_request", "attr_target.ids",
                "outside the vocabulary");
    }

    @Test
    void aChatRequestRendersTheModelsTemplateAndAttributesOnlyContentTokens() throws java.io.IOException {
        String chat = "{\"type\": \"chat\", \"messages\": [{\"role\": \"system\", \"content\": \"  You are a  helpful"
                + " assistant. \"}, {\"role\": \"user\", \"content\": \"Where does Dave live?\"}, {\"role\": \"assistant\","
                + " \"content\": \" In Palm Coast, FL.\\n\"}, {\"role\": \"user\", \"content\": \"And what is his job?\"}]";
        String rest = "\"target\": \" He\", \"method\": {\"name\": \"feature_ablation\"}";
        long[] expected = TestModels.ids(org.llmattrib.llama.ChatTemplateTest.expected().get("llama3"));
        Job tokens = plan(request(chat + "}", rest));
        assertThat(tokens.features().fullPrompt()).containsExactly(expected);
        assertThat(String.join("", tokens.features().valueTexts()))
                .isEqualTo("You are a  helpful assistant.Where does Dave live?In Palm Coast, FL.And what is his job?");
        // scaffolding (BOS, headers, end of turn) is never ablated
        long[] none = tokens.features().render(new boolean[tokens.features().featureCount()], null);
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] >= 128000) {
                assertThat(none[i]).as("special token at %d", i).isEqualTo(expected[i]);
            }
        }
        assertThat(java.util.Arrays.stream(none).filter(id -> id == 0).count()).isEqualTo(tokens.features().featureCount());

        Job messages = plan(request(chat + ", \"features\": \"messages\", \"baseline_token_id\": 220}", rest));
        assertThat(messages.features().valueTexts()).containsExactly("system: You are a  helpful assistant.",
                "user: Where does Dave live?", "assistant: In Palm Coast, FL.", "user: And what is his job?");
        boolean[] onlySecondAbsent = {true, false, true, true};
        long[] rendered = messages.features().render(onlySecondAbsent, null);
        int[] changed = java.util.stream.IntStream.range(0, expected.length).filter(i -> rendered[i] != expected[i]).toArray();
        assertThat(changed).hasSize(5);
        assertThat(java.util.Arrays.stream(changed).mapToLong(i -> rendered[i]).distinct().toArray()).containsExactly(220L);
    }

    @Test
    void gradientMethodsNeedTokenInput() {
        Job job = plan(request("{\"type\": \"template\", \"template\": \"{a}\", \"values\": {\"a\": \"x\"}}",
                "\"target\": \" golf\", \"method\": {\"name\": \"layer_integrated_gradients\"}"));
        AttributionEngine engine = new AttributionEngine(TestModels.tinyLlama3(DataType.FLOAT32), null);
        assertThatThrownBy(() -> engine.run(job, new JobListener() {
            @Override
            public void accepted(java.util.List<String> features, java.util.List<String> targetTokens) {}

            @Override
            public void token(TokenResult token) {}

            @Override
            public void completed(Completion completion) {}
        }, () -> {})).isInstanceOfSatisfying(RequestException.class, e -> assertThat(e.field()).isEqualTo("input.type"));
    }
}
