package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.CloudEvents;
import org.llmattrib.protocol.Protocol;

/**
 * A bounded flood of malformed request records of many kinds (random bytes, truncated JSON, every
 * field with a wrong type, deep nesting, huge payloads, absurd numbers, invalid UTF-8, tombstones,
 * path-like job ids) interleaved with valid jobs on one worker: the worker never dies, every
 * malformed record is answered by a DLQ record, plus a {@code failed} event when its job id is
 * readable, and every valid job completes.
 */
class MalformedRecordsTest {
    /** 300 in CI; {@code -Dchaos.malformed=1000} for the issue's flood. */
    static final int MALFORMED = Integer.getInteger("chaos.malformed", 300);
    static final int VALID_EVERY = 30;

    /** One malformed record and the job id a reader can find in it (null: none). */
    record Bad(byte[] value, String readableJobId) {}

    @Test
    void everyMalformedRecordIsAnsweredAndTheValidJobsComplete() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(2);
            try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                    TestModels.tinyLlama3Dir(), "cpu", "malformed", "flood-worker", 0, null, Limits.cpu(),
                    Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), QueueMode.GROUP, 3));
                    KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                            ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1_000_000,
                            ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                            ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
                    TopicRecords results = new TopicRecords(kafka.bootstrapServers(), Protocol.RESULTS_TOPIC);
                    TopicRecords dlq = new TopicRecords(kafka.bootstrapServers(), Protocol.DEAD_LETTER_TOPIC)) {
                Random random = new Random(20261129);
                Map<String, Bad> badBySource = new HashMap<>();
                List<String> valid = new ArrayList<>();
                for (int i = 0; i < MALFORMED; i++) {
                    if (i % VALID_EVERY == 0) {
                        String id = "valid-" + i;
                        valid.add(id);
                        producer.send(new ProducerRecord<>(Protocol.REQUESTS_TOPIC, i % 2, id,
                                ScaleOutAndFailureTest.shortJob(id)));
                    }
                    Bad bad = malformed(i, random);
                    RecordMetadata m = producer.send(new ProducerRecord<>(Protocol.REQUESTS_TOPIC, i % 2,
                            random.nextBoolean() ? null : "key-" + i, bad.value())).get();
                    badBySource.put(Protocol.REQUESTS_TOPIC + "/" + m.partition() + "@" + m.offset(), bad);
                }

                await("every malformed record dead-lettered").atMost(Duration.ofSeconds(180L * Math.max(1, MALFORMED / 300)))
                        .until(() -> dlq.all().size() >= MALFORMED);
                await("every valid job finished").atMost(Duration.ofSeconds(180L * Math.max(1, MALFORMED / 300)))
                        .until(() -> valid.stream().allMatch(results::finished));

                Map<String, ConsumerRecord<String, byte[]>> deadBySource = dlq.all().stream()
                        .collect(Collectors.toMap(r -> CloudEvents.text(r.headers(), "source"), Function.identity()));
                assertThat(deadBySource.keySet()).isEqualTo(badBySource.keySet());
                for (Map.Entry<String, Bad> e : badBySource.entrySet()) {
                    ConsumerRecord<String, byte[]> dead = deadBySource.get(e.getKey());
                    assertThat(CloudEvents.text(dead.headers(), "error.code")).as(e.getKey())
                            .isIn("malformed_json", "invalid_request", "unsupported_schema");
                    assertThat(CloudEvents.text(dead.headers(), "ce_type"))
                            .isEqualTo(CloudEvents.Type.REQUEST_REJECTED.value);
                    String jobId = e.getValue().readableJobId();
                    if (jobId != null) {
                        assertThat(results.events(jobId)).as("events of " + jobId).singleElement()
                                .isInstanceOfSatisfying(AttributionEvent.Failed.class,
                                        f -> assertThat(f.code()).isEqualTo(CloudEvents.text(dead.headers(), "error.code")));
                    }
                }
                for (String id : valid) {
                    List<AttributionEvent> events = results.events(id);
                    assertThat(events.get(events.size() - 1)).as(id).isInstanceOf(AttributionEvent.Completed.class);
                }
                Set<String> readable = badBySource.values().stream().map(Bad::readableJobId)
                        .filter(java.util.Objects::nonNull).collect(Collectors.toSet());
                assertThat(readable).as("malformed records whose job id is readable").hasSizeGreaterThan(MALFORMED / 4);
                assertThat(worker.live()).isTrue();
                assertThat(worker.ready()).isTrue();
            }
        }
    }

    /** The i-th malformed record: kinds in turn, details random. */
    static Bad malformed(int i, Random random) throws Exception {
        String id = "bad-" + i;
        ObjectNode request = ScaleOutAndFailureTest.example("seed-template-shapley", id);
        String json = Protocol.JSON.writeValueAsString(request);
        switch (i % 10) {
            case 0 -> {
                byte[] b = new byte[random.nextInt(300)];
                random.nextBytes(b);
                b = b.length > 0 && b[0] == '{' ? new byte[] {'}'} : b;
                return new Bad(b, null);
            }
            case 1 -> {
                int cut = 1 + random.nextInt(json.length() - 2);
                return new Bad(json.substring(0, cut).getBytes(StandardCharsets.UTF_8), null);
            }
            case 2 -> {
                List<String> fields = List.of("input", "target", "method", "num_trials", "schema", "multi_layer",
                        "attr_target", "deadline", "model", "reduce", "layers");
                String field = fields.get(random.nextInt(fields.size()));
                // types no field of the request has: a boolean, an object nobody expects, an array of those
                JsonNode stray = Protocol.JSON.readTree("{\"wrong\": true}");
                List<JsonNode> wrong = List.of(Protocol.JSON.getNodeFactory().booleanNode(true), stray,
                        Protocol.JSON.getNodeFactory().arrayNode().add(stray));
                request.set(field, wrong.get(random.nextInt(wrong.size())));
                return new Bad(Protocol.JSON.writeValueAsBytes(request), id);
            }
            case 3 -> {
                int depth = 65 + random.nextInt(20_000);
                return new Bad(("{\"job_id\":\"" + id + "\",\"input\":" + "[".repeat(depth) + "]".repeat(depth) + "}")
                        .getBytes(StandardCharsets.UTF_8), id);
            }
            case 4 -> {
                ((ObjectNode) request.get("method")).put("seed", new java.math.BigInteger("9".repeat(20 + random.nextInt(400))));
                return new Bad(Protocol.JSON.writeValueAsBytes(request), id);
            }
            case 5 -> {
                String s = json.replace("\"Dave\"", "\"D\u0000ve\"");
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                int at = s.indexOf("D\u0000ve") + 1;
                b[at] = (byte) (0x80 + random.nextInt(0x40)); // a continuation byte with no lead byte
                return new Bad(b, null);
            }
            case 6 -> {
                return new Bad(null, null);
            }
            case 7 -> {
                request.put("model", "m".repeat(200_000 + random.nextInt(300_000)));
                request.put("colour", "red");
                return new Bad(Protocol.JSON.writeValueAsBytes(request), id);
            }
            case 8 -> {
                String jobId = List.of("..", "../x", "/etc/passwd", "a/b", ".hidden", "x".repeat(129)).get(random.nextInt(6));
                request.put("job_id", jobId);
                return new Bad(Protocol.JSON.writeValueAsBytes(request), null);
            }
            default -> {
                return new Bad(List.of("[]", "\"text\"", "42", "null", "true", "{}", "{\"schema\":7}")
                        .get(random.nextInt(7)).getBytes(StandardCharsets.UTF_8), null);
            }
        }
    }
}
