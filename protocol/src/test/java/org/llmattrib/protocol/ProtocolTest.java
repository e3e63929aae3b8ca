package org.llmattrib.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ProtocolTest {

    static byte[] example(String name) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            return in.readAllBytes();
        }
    }

    static byte[] edit(String name, Consumer<ObjectNode> change) throws IOException {
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(example(name));
        change.accept(node);
        return Protocol.JSON.writeValueAsBytes(node);
    }

    static void assertValid(String schemaFile, byte[] json) throws IOException {
        assertThat(Protocol.schema(schemaFile).validate(Protocol.JSON.readTree(json))).isEmpty();
    }

    /** The message survives JSON -> record -> JSON unchanged, and record -> JSON -> record. */
    static <T> void assertRoundTrip(byte[] json, T message, java.util.function.Function<byte[], T> decode)
            throws IOException {
        assertThat(Protocol.JSON.readTree(Protocol.encode(message))).isEqualTo(Protocol.JSON.readTree(json));
        assertThat(decode.apply(Protocol.encode(message))).isEqualTo(message);
    }

    @ParameterizedTest
    @ValueSource(strings = {"seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
            "seed-lig-embeddings", "seed-lig-multilayer"})
    void requestExamplesValidateAndRoundTrip(String name) throws IOException {
        assertValid("attribution-request-v1.schema.json", example(name));
        AttributionRequest request = Protocol.decodeRequest(example(name));
        assertThat(request.schema()).isEqualTo(AttributionRequest.SCHEMA);
        assertThat(request.jobId()).startsWith("seed-");
        assertRoundTrip(example(name), request, Protocol::decodeRequest);
    }

    @ParameterizedTest
    @ValueSource(strings = {"event-accepted", "event-token", "event-completed", "event-failed"})
    void eventExamplesValidateAndRoundTrip(String name) throws IOException {
        assertValid("attribution-event-v1.schema.json", example(name));
        AttributionEvent event = Protocol.decodeEvent(example(name));
        assertThat(name).isEqualTo("event-" + Protocol.JSON.readTree(example(name)).get("type").asText());
        assertRoundTrip(example(name), event, Protocol::decodeEvent);
    }

    @Test
    void controlExampleValidatesAndRoundTrips() throws IOException {
        assertValid("attribution-control-v1.schema.json", example("control-cancel"));
        Control cancel = Protocol.decodeControl(example("control-cancel"));
        assertThat(cancel).isEqualTo(Control.cancel("job-1"));
        assertRoundTrip(example("control-cancel"), cancel, Protocol::decodeControl);
        assertThatThrownBy(() -> Protocol.decodeControl(edit("control-cancel", n -> n.put("type", "pause"))))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.field()).isEqualTo("type"));
    }

    @Test
    void everyErrorCodeKeepsItsWireNameAndIsDocumentedWithWhatAClientDoes() throws IOException {
        // the names clients have seen on the wire since v1
        assertThat(java.util.Arrays.stream(ErrorCode.values()).map(ErrorCode::wire)).containsExactlyInAnyOrder(
                "invalid_request", "unsupported_schema", "malformed_json", "unknown_method", "unknown_layer",
                "too_many_features", "limit_exceeded", "cancelled", "deadline_exceeded", "duplicate_job_id",
                "too_many_attempts", "internal");
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
        for (ErrorCode code : ErrorCode.values()) {
            assertThat(Protocol.toJson(code)).isEqualTo("\"" + code.wire() + "\"");
            assertThat(ErrorCode.of(code.wire())).contains(code);
            assertThat(readme).as("protocol/README.md documents %s", code).containsPattern("\\| `" + code.wire()
                    + "` \\|[^\\n]*\\| (retry|fix|give up)[^|]*\\|\\n");
        }
        AttributionEvent.Failed failed = new AttributionEvent.Failed("j", 0, ErrorCode.DUPLICATE_JOB_ID, "m", "job_id");
        assertThat(failed.code()).isEqualTo("duplicate_job_id");
        assertThat(Protocol.decodeEvent(Protocol.encode(failed))).isEqualTo(failed);
        assertThat(new AttributionEvent.Failed(AttributionEvent.SCHEMA, "j", 0, "from_a_newer_worker", "m", null)
                .errorCode()).isEmpty();
    }

    @Test
    void templateAndTokenInputsAreTypedOnceAndEncodeAsTheyCame() {
        // in the records' order, so that the encoded text must come out the same (the job registry hashes it)
        String head = "{\"schema\":\"attribution-request/v1\",\"job_id\":\"t\",\"input\":";
        String tail = ",\"target\":\" golf\",\"method\":{\"name\":\"feature_ablation\"}}";
        String named = head + "{\"type\":\"template\",\"template\":\"{b} {a}\",\"values\":{\"b\":\"x\",\"a\":\"y\"},"
                + "\"baselines\":{\"product\":{\"b\":[\"p\",[\"q\"]],\"b, a\":[[\"r\",\"s\"]]}},\"mask\":{\"b\":7,\"a\":3}}"
                + tail;
        String listed = head + "{\"type\":\"template\",\"template\":\"{} {}\",\"values\":[\"x\",\"y\"],"
                + "\"baselines\":[\"p\",\"q\"],\"mask\":[2,2]}" + tail;
        String perValue = head + "{\"type\":\"template\",\"template\":\"{b}\",\"values\":{\"b\":\"x\"},"
                + "\"baselines\":{\"b\":\"p\"}}" + tail;
        String tokens = head + "{\"type\":\"tokens\",\"text\":\"x y\",\"skip_tokens\":[128000,\" y\"]}" + tail;
        for (String json : List.of(named, listed, perValue, tokens)) {
            assertThat(Protocol.toJson(Protocol.decodeRequest(json.getBytes(StandardCharsets.UTF_8)))).isEqualTo(json);
        }
        InputSpec.Template t = (InputSpec.Template) Protocol.decodeRequest(named.getBytes(StandardCharsets.UTF_8)).input();
        assertThat(t.values()).isEqualTo(new InputSpec.Values(List.of("b", "a"), List.of("x", "y")));
        InputSpec.Baselines.Product product = (InputSpec.Baselines.Product) t.baselines();
        assertThat(product.product().keySet()).containsExactly("b", "b, a");
        assertThat(product.product().get("b")).containsExactly(new InputSpec.Baselines.Alternative(List.of("p"), false),
                new InputSpec.Baselines.Alternative(List.of("q"), true));
        assertThat(t.mask()).isEqualTo(new InputSpec.Mask.PerValue(Map.of("b", 7L, "a", 3L)));
        InputSpec.Template l = (InputSpec.Template) Protocol.decodeRequest(listed.getBytes(StandardCharsets.UTF_8)).input();
        assertThat(l.values().named()).isFalse();
        assertThat(l.baselines()).isEqualTo(new InputSpec.Baselines.Fixed(List.of("p", "q")));
        assertThat(l.mask()).isEqualTo(new InputSpec.Mask.InOrder(List.of(2L, 2L)));
        InputSpec.Template p = (InputSpec.Template) Protocol.decodeRequest(perValue.getBytes(StandardCharsets.UTF_8)).input();
        assertThat(p.baselines()).isEqualTo(new InputSpec.Baselines.PerValue(Map.of("b", "p")));
        assertThat(((InputSpec.Tokens) Protocol.decodeRequest(tokens.getBytes(StandardCharsets.UTF_8)).input()).skipTokens())
                .containsExactly(new InputSpec.SkipToken.Id(128000), new InputSpec.SkipToken.Text(" y"));
    }

    @Test
    void everyEventRecordRoundTripsAndMatchesTheSchema() throws IOException {
        String s = AttributionEvent.SCHEMA;
        List<AttributionEvent> events = List.of(
                new AttributionEvent.Accepted(s, "j", 0, "w", "m", "lime", List.of("a", " b"), null),
                new AttributionEvent.Token(s, "j", 1, 0, 42, " golf", -1.5, List.of(0.25, -1.0),
                        Map.of("model.embed_tokens", List.of(0.25, -1.0)),
                        Map.of("model.embed_tokens", new AttributionEvent.IgCheck(-1.5, -2.0, 0.001, 50)),
                        Map.of("model.embed_tokens", "file:///results/j/0/model.embed_tokens.npy")),
                new AttributionEvent.Completed(s, "j", 2, List.of(0.25, -1.0), List.of(" golf"), List.of(42L),
                        null, Map.of("total_ms", 12.0), Map.of("forwards", 3L, "flops", 5.5e9)),
                new AttributionEvent.Failed(s, "j", 3, "cancelled", "stopped", null));
        for (AttributionEvent e : events) {
            byte[] json = Protocol.encode(e);
            assertValid("attribution-event-v1.schema.json", json);
            assertThat(Protocol.decodeEvent(json)).isEqualTo(e);
        }
        assertThat(Protocol.toJson(events.get(1))).contains("\"type\":\"token\"", "\"job_id\":\"j\"", "\"token_id\":42",
                "\"log_prob\":-1.5", "\"f_input\":-1.5", "\"f_baseline\":-2.0");
        assertThat(Protocol.toJson(events.get(0))).doesNotContain("target_tokens");
    }

    @Test
    void aRequestBuiltInJavaValidates() {
        AttributionRequest request = new AttributionRequest(AttributionRequest.SCHEMA, "built-1", null,
                new InputSpec.Tokens("Dave lives in Palm Coast", null, null), null, List.of(5L, 6L), null,
                MethodSpec.named("kernel_shap"), null, null, new AttrTarget(AttrTarget.Kind.PROB, null, null), 2, null,
                "2030-01-01T00:00:00Z");
        assertThat(Protocol.decodeRequest(Protocol.encode(request))).isEqualTo(request);
        assertThat(Protocol.toJson(request)).doesNotContain("null", "model", "layers");
    }

    @Test
    void aKeyTwiceOrAnythingAfterTheObjectIsRefused() {
        String request = "{\"schema\":\"attribution-request/v1\",\"job_id\":\"strict\",\"input\":{\"type\":"
                + "\"tokens\",\"text\":\"x\"},\"target\":\" golf\",\"method\":{\"name\":\"feature_ablation\"}}";
        assertThat(Protocol.decodeRequest(request.getBytes()).jobId()).isEqualTo("strict");
        assertThat(Protocol.decodeRequest((request + " \n").getBytes()).jobId()).isEqualTo("strict");
        assertThatThrownBy(() -> Protocol.decodeRequest((request + " {\"job_id\":\"x\"} garbage").getBytes()))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("Trailing token")
                .extracting(e -> ((ProtocolException) e).code()).isEqualTo(ErrorCode.MALFORMED_JSON);
        assertThatThrownBy(() -> Protocol.decodeRequest(request.replace("\"target\"", "\"job_id\":\"other\","
                + "\"target\"").getBytes())).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("Duplicate field 'job_id'")
                .extracting(e -> ((ProtocolException) e).code()).isEqualTo(ErrorCode.MALFORMED_JSON);
        assertThatThrownBy(() -> Protocol.decodeRequest(request.replace("\"feature_ablation\"}",
                "\"feature_ablation\",\"name\":\"lime\"}").getBytes())).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("Duplicate field 'name'");
    }

    @Test
    void attrTargetIsAStringOrAContrastObject() {
        String base = "{\"schema\":\"attribution-request/v1\",\"job_id\":\"c\",\"input\":{\"type\":\"tokens\","
                + "\"text\":\"x\"},\"target\":\" golf\",\"method\":{\"name\":\"feature_ablation\"},\"attr_target\":";
        AttributionRequest text = Protocol.decodeRequest((base + "{\"type\":\"contrast\",\"text\":\" tennis\"}}").getBytes());
        assertThat(text.attrTargetOrDefault()).isEqualTo(new AttrTarget(AttrTarget.Kind.CONTRAST, " tennis", null));
        AttributionRequest ids = Protocol.decodeRequest((base + "{\"type\":\"contrast\",\"ids\":[5,6]}}").getBytes());
        assertThat(ids.attrTargetOrDefault().ids()).containsExactly(5L, 6L);
        assertThat(Protocol.decodeRequest(Protocol.encode(ids))).isEqualTo(ids);
        assertThat(Protocol.toJson(ids)).contains("\"attr_target\":{\"type\":\"contrast\",\"ids\":[5,6]}");
        assertThat(Protocol.decodeRequest((base + "\"prob\"}").getBytes()).attrTargetOrDefault().kind())
                .isEqualTo(AttrTarget.Kind.PROB);
        for (String bad : List.of("\"logit\"", "{\"type\":\"contrast\"}", "{\"type\":\"contrast\",\"text\":\"a\",\"ids\":[1]}",
                "{\"type\":\"contrast\",\"ids\":[]}", "{\"type\":\"other\",\"text\":\"a\"}")) {
            assertThatThrownBy(() -> Protocol.decodeRequest((base + bad + "}").getBytes()))
                    .as(bad).isInstanceOf(ProtocolException.class)
                    .extracting(e -> ((ProtocolException) e).field()).asString().startsWith("attr_target");
        }
    }

    @Test
    void nStepsIsACountOrAuto() {
        String base = "{\"schema\":\"attribution-request/v1\",\"job_id\":\"s\",\"input\":{\"type\":\"tokens\","
                + "\"text\":\"x\"},\"target\":\" golf\",\"method\":{\"name\":\"layer_integrated_gradients\",";
        MethodSpec auto = Protocol.decodeRequest((base + "\"n_steps\":\"auto\",\"tolerance\":0.01}}").getBytes()).method();
        assertThat(auto.autoSteps()).isTrue();
        assertThat(auto.toleranceOrDefault()).isEqualTo(0.01);
        assertThat(auto.nStepsOrDefault()).isEqualTo(MethodSpec.MAX_AUTO_STEPS);
        assertThat(Protocol.toJson(auto)).contains("\"n_steps\":\"auto\"");
        MethodSpec fixed = Protocol.decodeRequest((base + "\"n_steps\":20}}").getBytes()).method();
        assertThat(fixed.autoSteps()).isFalse();
        assertThat(fixed.nStepsOrDefault()).isEqualTo(20);
        assertThat(fixed.toleranceOrDefault()).isEqualTo(0.005);
        for (String bad : List.of("\"n_steps\":\"fast\"", "\"n_steps\":0", "\"n_steps\":\"auto\",\"tolerance\":0")) {
            assertThatThrownBy(() -> Protocol.decodeRequest((base + bad + "}}").getBytes())).as(bad)
                    .isInstanceOf(ProtocolException.class)
                    .extracting(e -> ((ProtocolException) e).field()).asString().startsWith("method.");
        }
    }

    @Test
    void accessorsApplyTheDefaults() throws IOException {
        AttributionRequest template = Protocol.decodeRequest(example("seed-template-shapley"));
        InputSpec.Template t = (InputSpec.Template) template.input();
        assertThat(t.values().names()).containsExactly("name", "city", "state", "occupation", "pronoun");
        assertThat(t.values().texts()).containsExactly("Dave", "Palm Coast", "FL", "lawyer", "His");
        assertThat(((InputSpec.Baselines.Product) t.baselines()).product().get("name,pronoun").get(0).values().get(0))
                .isEqualTo("Sarah");
        assertThat(((InputSpec.Mask.PerValue) t.mask()).ids().get("state")).isEqualTo(1);
        assertThat(template.numTrialsOrDefault()).isEqualTo(3);
        assertThat(template.method().seedOrDefault()).isEqualTo(42);

        AttributionRequest tokens = Protocol.decodeRequest(example("seed-token-feature-ablation"));
        assertThat(tokens.multiLayerOrDefault()).isEqualTo("independent");
        assertThat(tokens.reduceOrDefault()).isEqualTo("sum");
        assertThat(tokens.attrTargetOrDefault()).isEqualTo(AttrTarget.LOG_PROB);
        assertThat(tokens.numTrialsOrDefault()).isEqualTo(1);
        assertThat(((InputSpec.Tokens) tokens.input()).skipTokens())
                .containsExactly(new InputSpec.SkipToken.Text("<|begin_of_text|>"));
        assertThat(((InputSpec.Tokens) tokens.input()).baselineTokenIdOrDefault()).isZero();
        MethodSpec m = tokens.method();
        assertThat(List.of(m.nStepsOrDefault(), m.nSamplesOrDefault(), m.maxFeaturesOrDefault(),
                m.perturbationsPerEvalOrDefault())).containsExactly(50, 25, 10, 32);
        assertThat(m.integrationOrDefault()).isEqualTo("gausslegendre");
        assertThat(m.seedOrDefault()).isZero();
        assertThat(m.stdevsOrDefault()).isZero();
        assertThat(m.attributeToLayerInputOrDefault()).isFalse();

        InputSpec.Template list = new InputSpec.Template("{} and {}",
                Protocol.JSON.treeToValue(Protocol.JSON.readTree("[\"a\", \"b\"]"), InputSpec.Values.class), null, null);
        assertThat(list.values().names()).isEmpty();
        assertThat(list.values().texts()).containsExactly("a", "b");
    }

    @Test
    void badRequestsNameTheirField() throws IOException {
        assertProblem(edit("seed-lig-embeddings", n -> n.put("colour", "red")), "invalid_request", "colour");
        assertProblem(edit("seed-lig-embeddings", n -> n.remove("input")), "invalid_request", "input");
        assertProblem(edit("seed-lig-embeddings", n -> ((ObjectNode) n.get("method")).put("name", "saliency")),
                "invalid_request", "method.name");
        assertProblem(edit("seed-lig-embeddings", n -> ((ObjectNode) n.get("method")).put("n_steps", 0)),
                "invalid_request", "method.n_steps");
        assertProblem(edit("seed-lig-embeddings", n -> ((ObjectNode) n.get("input")).put("colour", "red")),
                "invalid_request", "input.colour");
        assertProblem(edit("seed-template-shapley", n -> ((ObjectNode) n.get("input").get("mask")).put("city", "x")),
                "invalid_request", "input.mask.city");
        assertProblem(edit("seed-lig-embeddings", n -> n.putArray("layers").add("")), "invalid_request", "layers[0]");
        assertProblem(edit("seed-lig-embeddings", n -> n.put("job_id", "no spaces")), "invalid_request", "job_id");
        assertProblem(edit("seed-lig-embeddings", n -> n.put("deadline", 20300101)), "invalid_request", "deadline");
        assertProblem(edit("seed-lig-embeddings", n -> n.put("schema", "attribution-request/v2")),
                "unsupported_schema", "schema");
        assertProblem(edit("seed-lig-embeddings", n -> n.remove("schema")), "unsupported_schema", "schema");
        assertProblem(edit("seed-lig-embeddings", n -> n.putArray("target_ids").add(5)), "invalid_request", "");
        assertProblem("{\"job_id\": \"x\",".getBytes(StandardCharsets.UTF_8), "malformed_json", null);
        assertProblem("[1, 2]".getBytes(StandardCharsets.UTF_8), "malformed_json", null);

        assertThat(catchProblem(edit("seed-lig-embeddings", n -> n.put("colour", "red"))).jobId())
                .isEqualTo("seed-lig-embeddings");
        assertThat(catchProblem(edit("seed-lig-embeddings", n -> n.put("colour", "red"))).getMessage())
                .contains("colour");
        // the job id is readable before the JSON breaks off: the worker answers it with a failed event
        assertThat(catchProblem("{\"job_id\": \"x\",".getBytes(StandardCharsets.UTF_8)).jobId()).isEqualTo("x");
        assertThat(catchProblem("{\"input\": [[], {\"a\": 1}], \"job_id\": \"y\", \"tar".getBytes(StandardCharsets.UTF_8))
                .jobId()).isEqualTo("y");
        assertThat(catchProblem("{\"job_id\": 7, \"x\":".getBytes(StandardCharsets.UTF_8)).jobId()).isNull();
        assertThat(catchProblem("{\"input\": [1, }, \"job_id\": \"z\"}".getBytes(StandardCharsets.UTF_8)).jobId()).isNull();
    }

    @Test
    void theFirstClaimOfAJobIdWinsUntilItFails() {
        JobStatus a = JobStatus.of("j", "hash-a", "requests/0@1", "w1", JobStatus.State.RUNNING);
        JobStatus b = JobStatus.of("j", "hash-b", "requests/0@2", "w2", JobStatus.State.RUNNING);
        assertThat(JobStatus.fold(null, a)).isEqualTo(a);
        assertThat(JobStatus.fold(a, b)).as("a second claim while the first runs").isEqualTo(a);
        JobStatus aDone = JobStatus.of("j", "hash-a", "requests/0@1", "w1", JobStatus.State.COMPLETED);
        assertThat(JobStatus.fold(a, aDone)).isEqualTo(aDone);
        assertThat(JobStatus.fold(aDone, b)).as("a claim after completion").isEqualTo(aDone);
        JobStatus aRerun = JobStatus.of("j", "hash-a", "requests/0@1", "w3", JobStatus.State.RUNNING);
        assertThat(JobStatus.fold(a, aRerun)).as("the same record run again elsewhere").isEqualTo(aRerun);
        JobStatus aFailed = JobStatus.of("j", "hash-a", "requests/0@1", "w1", JobStatus.State.FAILED);
        assertThat(JobStatus.fold(aFailed, b)).as("a failed job id may be claimed again").isEqualTo(b);
    }

    @Test
    void everyUndecodableInputIsAProtocolProblem() throws IOException {
        assertProblem(null, "malformed_json", null);
        assertProblem(new byte[0], "malformed_json", null);
        assertProblem(new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'}, "malformed_json", null);
        assertProblem(new byte[] {(byte) 0xFF, (byte) 0xFE, 0, 0, (byte) 0x80}, "malformed_json", null);
        assertProblem(new byte[] {0, 0, 0, (byte) 0xFF, 1, 2}, "malformed_json", null);
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        assertProblem(("{\"schema\":\"attribution-request/v1\",\"job_id\":\"deep\",\"input\":" + deep + "}")
                .getBytes(StandardCharsets.UTF_8), "malformed_json", null);
        // nested past the parser's limit, before or after a readable job id: the id is kept
        assertThat(catchProblem(("{\"job_id\":\"deep\",\"model\":" + deep + "}").getBytes(StandardCharsets.UTF_8))
                .jobId()).isEqualTo("deep");
        String deepObject = "{\"a\":".repeat(900) + "1" + "}".repeat(900);
        assertThat(catchProblem(("{\"model\":" + deepObject + ",\"job_id\":\"after\"}").getBytes(StandardCharsets.UTF_8))
                .jobId()).isEqualTo("after");
        assertProblem(("{\"x\":\"" + "a".repeat(30_000_000) + "\"}").getBytes(StandardCharsets.UTF_8),
                "malformed_json", null);
    }

    @Test
    void aNumberNoFieldCanHoldIsRefusedByFieldWithTheJobIdKept() throws IOException {
        byte[] huge = new String(example("seed-lig-embeddings"), StandardCharsets.UTF_8)
                .replace("\"n_steps\": 50", "\"n_steps\": 100000000000000000000000")
                .getBytes(StandardCharsets.UTF_8);
        assertThat(new String(huge, StandardCharsets.UTF_8)).contains("100000000000000000000000");
        ProtocolException e = catchProblem(huge);
        assertThat(e.code()).isEqualTo(ErrorCode.INVALID_REQUEST);
        assertThat(e.field()).isEqualTo("method.n_steps");
        assertThat(e.jobId()).isEqualTo("seed-lig-embeddings");
        assertThat(e.getMessage()).contains("method.n_steps").contains("out of range");
        assertProblem(new String(example("seed-lig-embeddings"), StandardCharsets.UTF_8)
                .replaceFirst("\"job_id\"", "\"model\": 1e999, \"job_id\"").getBytes(StandardCharsets.UTF_8),
                "invalid_request", "model");
        assertProblem(edit("seed-lig-embeddings", n -> n.putArray("target_ids").add(new java.math.BigInteger("9".repeat(30)))),
                "invalid_request", "target_ids[0]");
    }

    @ParameterizedTest
    @ValueSource(strings = {".", "..", "../x", "a/b", "/etc", "x\\y", ".hidden", "-rf"})
    void jobIdsThatCouldBePathsAreRefused(String jobId) throws IOException {
        assertProblem(edit("seed-lig-embeddings", n -> n.put("job_id", jobId)), "invalid_request", "job_id");
    }

    @Test
    void longJobIdsAreRefusedAndOrdinaryOnesAccepted() throws IOException {
        assertProblem(edit("seed-lig-embeddings", n -> n.put("job_id", "a".repeat(129))), "invalid_request", "job_id");
        for (String ok : List.of("a".repeat(128), "job-1", "Job_2.v3:retry", "0")) {
            assertThat(Protocol.decodeRequest(edit("seed-lig-embeddings", n -> n.put("job_id", ok))).jobId()).isEqualTo(ok);
        }
    }

    /** An answer is published under a job id only when it is one: a huge or path-like id gets none. */
    @Test
    void invalidJobIdsAreNotKeptForTheAnswerAndTheSchemaPatternIsTheCodes() throws IOException {
        for (String bad : List.of("a".repeat(400_000), "k/../../x", "has space")) {
            ProtocolException e = catchProblem(edit("seed-lig-embeddings", n -> n.put("job_id", bad)));
            assertThat(e.field()).isEqualTo("job_id");
            assertThat(e.jobId()).isNull();
        }
        assertThat(catchProblem(edit("seed-lig-embeddings", n -> n.put("job_id", "ok-1").put("num_trials", -1))).jobId())
                .isEqualTo("ok-1");
        JsonNode pattern = Protocol.JSON.readTree(Protocol.class.getResourceAsStream("/schemas/attribution-request-v1.schema.json"))
                .path("properties").path("job_id").path("pattern");
        for (String id : List.of("a".repeat(128), "a".repeat(129), "0", ".x", "A-b_c.d:e", "x y", "é")) {
            assertThat(Protocol.isJobId(id)).as(id).isEqualTo(java.util.regex.Pattern.compile(pattern.asText()).matcher(id).find());
        }
    }

    @Test
    void aLoneSurrogateEscapeIsNotTextAndIsRefusedByField() {
        byte[] lone = ("{\"schema\": \"attribution-request/v1\", \"job_id\": \"s1\", \"input\": {\"type\": \"tokens\","
                + " \"text\": \"Dave \\ud800 lives\"}, \"target\": \" x\", \"method\": {\"name\": \"feature_ablation\"}}")
                .getBytes(StandardCharsets.UTF_8);
        assertProblem(lone, "invalid_request", "input.text");
        assertThat(catchProblem(lone).getMessage()).contains("\\ud800 at character 5");
        byte[] pair = new String(lone, StandardCharsets.UTF_8).replace("\\ud800", "\\ud83d\\ude00")
                .getBytes(StandardCharsets.UTF_8);
        assertThat(((InputSpec.Tokens) Protocol.decodeRequest(pair).input()).text()).contains("\uD83D\uDE00");
    }

    @Test
    void aFailedEventsMessageIsCutToItsLimitSayingHowMuch() {
        AttributionEvent.Failed f = new AttributionEvent.Failed("j", 0, ErrorCode.INTERNAL, "x".repeat(2_000_000), null);
        assertThat(f.message()).hasSizeLessThan(AttributionEvent.Failed.MAX_MESSAGE_CHARS + 40)
                .endsWith("... (" + (2_000_000 - AttributionEvent.Failed.MAX_MESSAGE_CHARS) + " more characters)");
        assertThat(new AttributionEvent.Failed("j", 0, ErrorCode.INTERNAL, "short", null).message()).isEqualTo("short");
    }

    static ProtocolException catchProblem(byte[] json) {
        try {
            Protocol.decodeRequest(json);
        } catch (ProtocolException e) {
            return e;
        }
        throw new AssertionError("accepted: " + new String(json, StandardCharsets.UTF_8));
    }

    static void assertProblem(byte[] json, String code, String field) {
        ProtocolException e = catchProblem(json);
        assertThat(e.code().wire()).as(e.getMessage()).isEqualTo(code);
        assertThat(e.field()).as(e.getMessage()).isEqualTo(field);
        assertThat(e.getMessage()).isNotBlank();
    }

    /** The seed notebook's prompt_fn, transliterated. */
    static String seedPromptFn(List<String> examples) {
        String main = "Decide if the following movie review enclosed in quotes is Positive or Negative:\n"
                + "'I really liked the Avengers, it had a captivating plot!'\nReply only Positive or Negative.";
        List<String> subset = examples.stream().filter(e -> !e.isEmpty()).collect(Collectors.toList());
        String prompt = subset.isEmpty() ? main
                : "Here are some examples of movie reviews and classification of whether they were Positive or Negative:\n"
                        + String.join(" \n", subset) + "\n " + main;
        return "[INST] " + prompt + "[/INST]";
    }

    @Test
    void segmentsRenderTheSeedsFewShotPrompt() throws IOException {
        InputSpec.Segments s = (InputSpec.Segments) Protocol.decodeRequest(example("seed-fewshot-segments")).input();
        assertThat(s.render(s.segments())).isEqualTo(seedPromptFn(s.segments()));
        assertThat(s.render(s.baselinesOrDefault())).isEqualTo(s.before() + s.after())
                .isEqualTo(seedPromptFn(List.of("", "", "", "")));
        for (int present = 0; present < 16; present++) {
            List<String> current = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                current.add((present >> i & 1) == 1 ? s.segments().get(i) : "");
            }
            assertThat(s.render(current)).isEqualTo(seedPromptFn(current));
        }
    }
}
