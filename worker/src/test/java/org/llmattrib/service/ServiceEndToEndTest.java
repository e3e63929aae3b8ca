package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real KRaft broker in this JVM, a worker on the tiny checkpoint, requests through the client API;
 * the whole class once per queue mode (a share group, a consumer group), each on a fresh broker.
 */
@ParameterizedClass
@EnumSource(QueueMode.class)
class ServiceEndToEndTest {
    static EmbeddedKafka kafka;
    static AttributionWorker worker;
    static AttributionClient client;

    /** Takes the invocation's argument (JUnit's contract; the broker and worker are per invocation, below). */
    ServiceEndToEndTest(QueueMode queue) {
    }

    @BeforeParameterizedClassInvocation
    static void start(QueueMode queue) {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(3);
        worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "e2e-workers", null, 0, null, Limits.cpu(),
                Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), queue, 3));
        client = new AttributionClient(kafka.bootstrapServers());
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        client.close();
        worker.close();
        kafka.close();
    }

    static byte[] example(String name, String jobId) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            ObjectNode node = (ObjectNode) Protocol.JSON.readTree(in);
            node.put("job_id", jobId);
            return Protocol.JSON.writeValueAsBytes(node);
        }
    }

    static List<AttributionEvent> run(String jobId, byte[] body) {
        List<AttributionEvent> events = new ArrayList<>();
        AttributionEvent last = client.submitAndFollow(jobId, body, Duration.ofMinutes(2), events::add);
        assertThat(last).as("final event of " + jobId).isNotNull();
        return events;
    }

    /** The events `attrib explain --json` prints for the same request, on the same checkpoint. */
    static List<AttributionEvent> explain(byte[] body) {
        List<AttributionEvent> events = new ArrayList<>();
        JobRunner runner = new JobRunner(new AttributionEngine(worker.llama(), null),
                new RequestPlanner(worker.llama(), Limits.cpu()), worker.workerId());
        runner.run(body, Map.of(), () -> false, () -> false, events::add);
        return events;
    }

    @Test
    void aRequestStreamsAcceptedThenOneTokenEventPerTargetTokenThenCompletedWithExplainsNumbers() throws IOException {
        for (String example : List.of("seed-token-feature-ablation", "seed-lig-embeddings")) {
            byte[] body = example(example, "e2e-" + example);
            List<AttributionEvent> events = run("e2e-" + example, body);
            assertThat(events.get(0)).isInstanceOf(AttributionEvent.Accepted.class);
            List<String> target = ((AttributionEvent.Accepted) events.get(0)).targetTokens();
            assertThat(events).hasSize(target.size() + 2);
            for (int i = 0; i < events.size(); i++) {
                assertThat(events.get(i).seq()).isEqualTo(i);
            }
            for (int t = 0; t < target.size(); t++) {
                AttributionEvent.Token token = (AttributionEvent.Token) events.get(t + 1);
                assertThat(token.index()).isEqualTo(t);
                assertThat(token.token()).isEqualTo(target.get(t));
            }
            AttributionEvent.Completed done = (AttributionEvent.Completed) events.get(events.size() - 1);
            assertThat(done.timings()).containsKeys("queue_ms", "first_token_ms", "total_ms");

            List<AttributionEvent> local = explain(body);
            assertThat(local).hasSameSizeAs(events);
            for (int i = 1; i < events.size() - 1; i++) {
                AttributionEvent.Token a = (AttributionEvent.Token) events.get(i);
                AttributionEvent.Token b = (AttributionEvent.Token) local.get(i);
                assertThat(a.attr()).as(example + " token " + i).isEqualTo(b.attr());
                assertThat(a.logProb()).isEqualTo(b.logProb());
            }
            assertThat(done.seqAttr()).isEqualTo(((AttributionEvent.Completed) local.get(local.size() - 1)).seqAttr());
        }
    }

    @Test
    void badRequestsAreDeadLetteredOrFailedAndTheWorkerGoesOn() throws Exception {
        String valid = new String(example("seed-token-feature-ablation", "bad-1"), StandardCharsets.UTF_8);
        // unknown field: schema error naming it
        List<AttributionEvent> unknownField = run("bad-1", valid.replace("\"method\"", "\"colour\":\"red\",\"method\"")
                .getBytes(StandardCharsets.UTF_8));
        assertFailed(unknownField, "invalid_request", "colour");
        // wrong version
        assertFailed(run("bad-2", valid.replace("bad-1", "bad-2").replace("attribution-request/v1", "attribution-request/v9")
                .getBytes(StandardCharsets.UTF_8)), "unsupported_schema", "schema");
        // missing method
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(valid.replace("bad-1", "bad-3"));
        node.remove("method");
        assertFailed(run("bad-3", Protocol.JSON.writeValueAsBytes(node)), "invalid_request", "method");
        // valid shape, refused by the engine: unknown layer, oversize prompt
        ObjectNode lig = (ObjectNode) Protocol.JSON.readTree(example("seed-lig-embeddings", "bad-4"));
        lig.putArray("layers").add("model.layers.99.mlp");
        assertFailed(run("bad-4", Protocol.JSON.writeValueAsBytes(lig)), "unknown_layer", "layers[0]");
        ObjectNode big = (ObjectNode) Protocol.JSON.readTree(valid.replace("bad-1", "bad-5"));
        ((ObjectNode) big.get("input")).put("text", "word ".repeat(5000));
        assertFailed(run("bad-5", Protocol.JSON.writeValueAsBytes(big)), "limit_exceeded", "input");
        // malformed JSON has no readable job id: only the dead-letter topic hears of it
        client.submitRaw("bad-6", "{\"schema\": \"attribution-request/v1\", \"job_id\": ".getBytes(StandardCharsets.UTF_8)).join();
        // and the worker still serves a valid job afterwards
        List<AttributionEvent> ok = run("good-after-bad", example("seed-token-feature-ablation", "good-after-bad"));
        assertThat(ok.get(ok.size() - 1)).isInstanceOf(AttributionEvent.Completed.class);

        List<ConsumerRecord<String, byte[]>> dead = readAll(Protocol.DEAD_LETTER_TOPIC);
        assertThat(dead).extracting(ConsumerRecord::key).contains("bad-1", "bad-2", "bad-3", "bad-6");
        ConsumerRecord<String, byte[]> malformed = dead.stream().filter(r -> "bad-6".equals(r.key())).findFirst().orElseThrow();
        assertThat(new String(malformed.headers().lastHeader("error.code").value(), StandardCharsets.UTF_8))
                .isEqualTo("malformed_json");
        assertThat(dead).extracting(ConsumerRecord::key).doesNotContain("bad-4", "bad-5");
    }

    /**
     * The duplicate and the no-op are settled like any job (share mode: REJECTed and ACCEPTed, never
     * left acquired): a job sent behind them on their partition still runs.
     */
    @Test
    void aDuplicateJobIdIsRefusedAnIdenticalResubmissionIsANoOpAndTheQueueGoesOn() throws Exception {
        byte[] original = example("seed-token-feature-ablation", "same-id");
        List<AttributionEvent> first = run("same-id", original);
        assertThat(first.get(first.size() - 1)).isInstanceOf(AttributionEvent.Completed.class);

        ObjectNode other = (ObjectNode) Protocol.JSON.readTree(original);
        other.put("target", " tennis");
        assertFailed(run("same-id", Protocol.JSON.writeValueAsBytes(other)), "duplicate_job_id", "job_id");

        client.submitRaw("same-id", original).join();
        // keyed like the no-op, so on its partition, behind it
        client.submitRaw("same-id", example("seed-token-feature-ablation", "behind-same-id")).join();
        try (var events = client.events("behind-same-id", Duration.ofMinutes(2))) {
            assertThat(events.reduce((a, b) -> b)).get().isInstanceOf(AttributionEvent.Completed.class);
        }
        assertThat(readAll(Protocol.RESULTS_TOPIC)).filteredOn(r -> "same-id".equals(r.key()))
                .as("events of same-id: the first run's and one failed").hasSize(first.size() + 1);
    }

    @Test
    void metricsAndReadinessAreServedOverHttp() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + worker.metricsPort();
        HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        run("metrics-job", example("seed-token-feature-ablation", "metrics-job"));
        String metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("attribution_jobs_total{code=\"none\",outcome=\"completed\"}")
                .contains("attribution_job_duration_seconds_count").contains("attribution_queue_wait_seconds_count")
                .contains("attribution_paused_partitions").contains("attribution_tokens_total");
    }

    static void assertFailed(List<AttributionEvent> events, String code, String field) {
        assertThat(events).hasSize(1);
        AttributionEvent.Failed f = (AttributionEvent.Failed) events.get(0);
        assertThat(f.code()).isEqualTo(code);
        assertThat(f.field()).isEqualTo(field);
        assertThat(f.message()).isNotBlank();
    }

    static List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            long until = System.currentTimeMillis() + 5000;
            while (System.currentTimeMillis() < until) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }
}
