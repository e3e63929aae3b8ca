package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * What a job publishes fits the protocol: an event too large for a Kafka record, or results that
 * are not numbers, fail the job once with a message naming the problem (they were published as
 * "NaN" strings, or rejected by the producer and the job run again and again).
 */
class PublishableResultsTest {
    private final Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);

    private static byte[] request(String jobId, String method) {
        return ("{\"schema\": \"attribution-request/v1\", \"job_id\": \"" + jobId + "\", \"input\": {\"type\": \"tokens\","
                + " \"text\": \"Dave lives in Palm Coast, FL and is a lawyer.\"}, \"target\": \" He plays golf\","
                + " \"method\": " + method + "}").getBytes(StandardCharsets.UTF_8);
    }

    private static List<AttributionEvent> run(JobRunner runner, byte[] request) {
        List<AttributionEvent> events = new ArrayList<>();
        runner.run(request, Map.of(), () -> false, () -> false, events::add);
        return events;
    }

    @Test
    void anEventOverTheRecordLimitFailsTheJobNamingItsSize() {
        RequestPlanner planner = new RequestPlanner(llama, Limits.cpu());
        byte[] request = request("big", "{\"name\": \"feature_ablation\"}");
        List<AttributionEvent> whole = run(new JobRunner(new AttributionEngine(llama, null), planner, "test"), request);
        int tokenBytes = Protocol.encode(whole.get(1)).length;
        assertThat(whole.get(1)).isInstanceOf(AttributionEvent.Token.class);
        assertThat(whole.get(whole.size() - 1)).isInstanceOf(AttributionEvent.Completed.class);

        // the same job where a token event is one byte too many: accepted, then failed, nothing in between
        List<AttributionEvent> cut = run(new JobRunner(new AttributionEngine(llama, null), planner, "test",
                tokenBytes - 1), request);
        assertThat(cut).hasSize(2);
        assertThat(cut.get(0)).isInstanceOf(AttributionEvent.Accepted.class);
        AttributionEvent.Failed failed = (AttributionEvent.Failed) cut.get(1);
        assertThat(failed.code()).isEqualTo("limit_exceeded");
        assertThat(failed.message()).contains("token event is " + String.format("%,d", tokenBytes) + " bytes")
                .contains("fewer features, layers or target tokens");
        assertThat(failed.seq()).isEqualTo(1);
    }

    @Test
    void resultsThatAreNotFiniteFailTheJobInsteadOfBeingPublished() {
        JobRunner runner = new JobRunner(new AttributionEngine(llama, null), new RequestPlanner(llama, Limits.cpu()), "test");
        List<AttributionEvent> events = run(runner, request("nan", "{\"name\": \"layer_gradient_shap\","
                + " \"stdevs\": 1.7976931348623157e308, \"n_samples\": 2}"));
        assertThat(events).noneMatch(e -> e instanceof AttributionEvent.Token);
        AttributionEvent.Failed failed = (AttributionEvent.Failed) events.get(events.size() - 1);
        assertThat(failed.code()).isEqualTo("invalid_request");
        assertThat(failed.message()).contains("target token 0").contains("not finite");
        // an ordinary spread is fine
        assertThat(run(runner, request("ok", "{\"name\": \"layer_gradient_shap\", \"stdevs\": 0.1, \"n_samples\": 2}")))
                .last().isInstanceOf(AttributionEvent.Completed.class);
    }
}
