package org.llmattrib.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ProtocolTest {

    static byte[] example(String name) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            return in.readAllBytes();
        }
    }

    static byte[] edit(String name, java.util.function.Consumer<ObjectNode> change) throws IOException {
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(example(name));
        change.accept(node);
        return Protocol.JSON.writeValueAsBytes(node);
    }

    @ParameterizedTest
    @ValueSource(strings = {"seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
            "seed-lig-embeddings", "seed-lig-multilayer"})
    void everyExampleValidatesAndSurvivesARoundTrip(String name) throws IOException {
        AttributionRequest request = Protocol.decodeRequest(example(name));
        assertThat(request.jobId()).isNotBlank();
        assertThat(Protocol.decodeRequest(Protocol.encode(request))).isEqualTo(request);
    }

    @Test
    void requestsAreTypedWithDefaults() throws IOException {
        AttributionRequest template = Protocol.decodeRequest(example("seed-template-shapley"));
        InputSpec.Template t = (InputSpec.Template) template.input();
        assertThat(t.valueNames()).containsExactly("name", "city", "state", "occupation", "pronoun");
        assertThat(t.valueList()).containsExactly("Dave", "Palm Coast", "FL", "lawyer", "His");
        assertThat(t.baselines().get("product").get("name,pronoun").get(0).get(0).asText()).isEqualTo("Sarah");
        assertThat(template.numTrialsOrDefault()).isEqualTo(3);
        assertThat(template.method().seedOrDefault()).isEqualTo(42);
        AttributionRequest tokens = Protocol.decodeRequest(example("seed-lig-embeddings"));
        assertThat(tokens.multiLayerOrDefault()).isEqualTo("independent");
        assertThat(tokens.reduceOrDefault()).isEqualTo("sum");
        assertThat(tokens.attrTargetOrDefault()).isEqualTo("log_prob");
        assertThat(tokens.method().nStepsOrDefault()).isEqualTo(50);
        assertThat(tokens.method().integrationOrDefault()).isEqualTo("gausslegendre");
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
        assertProblem(edit("seed-lig-embeddings", n -> n.put("schema", "attribution-request/v2")),
                "unsupported_schema", "schema");
        assertProblem(edit("seed-lig-embeddings", n -> n.remove("schema")), "unsupported_schema", "schema");
        assertProblem(edit("seed-lig-embeddings", n -> n.putArray("target_ids").add(5)), "invalid_request", null);
        ProtocolException malformed = catchProblem("{\"job_id\": \"x\",".getBytes(StandardCharsets.UTF_8));
        assertThat(malformed.code()).isEqualTo("malformed_json");
        assertThat(malformed.jobId()).isNull();
        assertThat(catchProblem(edit("seed-lig-embeddings", n -> n.put("colour", "red"))).jobId())
                .isEqualTo("seed-lig-embeddings");
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
        assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
        if (field != null) {
            assertThat(e.field()).as(e.getMessage()).isEqualTo(field);
        }
        assertThat(e.getMessage()).isNotBlank();
    }

    @Test
    void eventsRoundTripWithTheirType() {
        List<AttributionEvent> events = List.of(
                new AttributionEvent.Accepted(AttributionEvent.SCHEMA, "j", 0, "w", "m", "lime", List.of("a"), null),
                new AttributionEvent.Token(AttributionEvent.SCHEMA, "j", 1, 0, 42, " golf", -1.5, List.of(0.25),
                        Map.of("model.embed_tokens", List.of(0.25)),
                        Map.of("model.embed_tokens", new AttributionEvent.IgCheck(-1.5, -2.0, 0.001)), null),
                new AttributionEvent.Completed(AttributionEvent.SCHEMA, "j", 2, List.of(0.25), List.of(" golf"),
                        List.of(42L), null, Map.of("total_ms", 12.0), Map.of("forwards", 3L)),
                new AttributionEvent.Failed(AttributionEvent.SCHEMA, "j", 3, "cancelled", "stopped", null));
        for (AttributionEvent e : events) {
            String json = Protocol.toJson(e);
            assertThat(json).contains("\"schema\":\"attribution-event/v1\"", "\"job_id\":\"j\"");
            AttributionEvent back = Protocol.decodeEvent(json.getBytes(StandardCharsets.UTF_8));
            assertThat(back).isInstanceOf(e.getClass());
            assertThat(back.seq()).isEqualTo(e.seq());
        }
        assertThat(Protocol.toJson(events.get(1))).contains("\"type\":\"token\"", "\"token_id\":42", "\"log_prob\":-1.5",
                "\"f_input\":-1.5", "\"f_baseline\":-2.0");
    }

    @Test
    void controlMessagesValidate() {
        Control c = Protocol.decodeControl(Protocol.encode(Control.cancel("job-1")));
        assertThat(c.jobId()).isEqualTo("job-1");
        assertThatThrownBy(() -> Protocol.decodeControl("{\"schema\":\"attribution-control/v1\",\"type\":\"pause\",\"job_id\":\"x\"}"
                .getBytes(StandardCharsets.UTF_8))).isInstanceOf(ProtocolException.class);
    }

    @Test
    void segmentsRenderTheSeedsFewShotPrompt() throws IOException {
        InputSpec.Segments s = (InputSpec.Segments) Protocol.decodeRequest(example("seed-fewshot-segments")).input();
        String main = "Decide if the following movie review enclosed in quotes is Positive or Negative:\n"
                + "'I really liked the Avengers, it had a captivating plot!'\nReply only Positive or Negative.";
        // the seed's prompt_fn with every example present, and with none
        String prefix = "Here are some examples of movie reviews and classification of whether they were Positive or Negative:\n";
        assertThat(s.render(s.segments())).isEqualTo("[INST] " + prefix + String.join(" \n", s.segments()) + "\n " + main
                + "[/INST]");
        assertThat(s.render(List.of("", "", "", ""))).isEqualTo("[INST] " + main + "[/INST]");
        assertThat(s.render(List.of("", s.segments().get(1), "", ""))).isEqualTo("[INST] " + prefix
                + s.segments().get(1) + "\n " + main + "[/INST]");
    }
}
