package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.CloudEvents;
import org.llmattrib.protocol.Protocol;

/**
 * What a worker does with each kind of request record, on a real broker: undecodable ones go to the
 * DLQ and the partition moves on; the job id in the body is the identity (not the key); cancels
 * apply to earlier requests only; a job id belongs to one request; every record written carries
 * CloudEvents headers.
 */
class RequestRecordsTest {
    static EmbeddedKafka kafka;
    static AttributionWorker worker;
    static AttributionClient client;
    static KafkaProducer<String, byte[]> producer;
    static TopicRecords results;
    static TopicRecords dlq;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(2);
        worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "records", "records-worker", 0, null, Limits.cpu(),
                Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), QueueMode.GROUP, 3));
        client = new AttributionClient(kafka.bootstrapServers());
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
        results = new TopicRecords(kafka.bootstrapServers(), Protocol.RESULTS_TOPIC);
        dlq = new TopicRecords(kafka.bootstrapServers(), Protocol.DEAD_LETTER_TOPIC);
    }

    @AfterAll
    static void stop() throws Exception {
        results.close();
        dlq.close();
        producer.close();
        client.close();
        worker.close();
        kafka.close();
    }

    /** Sends to one partition, with any key (null too); returns the offset. */
    static long send(int partition, String key, byte[] value) throws Exception {
        return producer.send(new ProducerRecord<>(Protocol.REQUESTS_TOPIC, partition, key, value)).get().offset();
    }

    static String header(ConsumerRecord<?, ?> r, String key) {
        return CloudEvents.text(r.headers(), key);
    }

    void awaitFinished(String jobId) {
        await(jobId + " finished").atMost(Duration.ofSeconds(60)).until(() -> results.finished(jobId));
    }

    static AttributionEvent last(List<AttributionEvent> events) {
        return events.get(events.size() - 1);
    }

    @Test
    void undecodableRecordsAreDeadLetteredAndTheValidJobBehindThemRuns() throws Exception {
        String valid = new String(ScaleOutAndFailureTest.shortJob("big-int"), StandardCharsets.UTF_8);
        List<byte[]> bad = new ArrayList<>();
        bad.add(null);
        bad.add(new byte[0]);
        bad.add(new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'});
        bad.add(("{\"job_id\":\"deep\",\"input\":" + "[".repeat(50_000) + "]".repeat(50_000) + "}")
                .getBytes(StandardCharsets.UTF_8));
        bad.add("[1, 2, 3]".getBytes(StandardCharsets.UTF_8));
        bad.add(valid.replace("\"method\":{", "\"method\":{\"n_steps\":100000000000000000000000,")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(new String(bad.get(5), StandardCharsets.UTF_8)).contains("100000000000000000000000");
        List<Long> offsets = new ArrayList<>();
        for (byte[] b : bad) {
            offsets.add(send(0, "poison", b));
        }
        send(0, "poison", ScaleOutAndFailureTest.shortJob("behind-the-poison"));
        awaitFinished("behind-the-poison");
        assertThat(last(results.events("behind-the-poison"))).isInstanceOf(AttributionEvent.Completed.class);

        await("every bad record dead-lettered").atMost(Duration.ofSeconds(10)).until(() -> dlq.all().size() >= bad.size());
        for (long offset : offsets) {
            String source = Protocol.REQUESTS_TOPIC + "/0@" + offset;
            ConsumerRecord<String, byte[]> dead = dlq.all().stream().filter(r -> source.equals(header(r, "source")))
                    .findFirst().orElseThrow(() -> new AssertionError("no DLQ record for " + source));
            assertThat(header(dead, "error.code")).isIn("malformed_json", "invalid_request");
            assertThat(header(dead, "error.message")).isNotBlank();
            assertThat(header(dead, "ce_specversion")).isEqualTo("1.0");
            assertThat(header(dead, "ce_type")).isEqualTo("org.llmattrib.attribution.request.rejected");
            assertThat(header(dead, "ce_id")).isEqualTo(source);
            assertThat(header(dead, "ce_source")).isEqualTo("urn:llm-attrib:worker:records-worker");
            assertThat(Instant.parse(header(dead, "ce_time"))).isBefore(Instant.now().plusSeconds(1));
            assertThat(header(dead, "content-type")).isEqualTo("application/json");
        }
        // the job id behind an out-of-range integer is readable: its submitter hears why
        assertThat(results.events("big-int")).singleElement().isInstanceOfSatisfying(AttributionEvent.Failed.class, f -> {
            assertThat(f.code()).isEqualTo("invalid_request");
            assertThat(f.field()).isEqualTo("method.n_steps");
        });
        assertThat(worker.live()).isTrue();
        assertThat(worker.ready()).isTrue();
    }

    @Test
    void aRequestWithoutAKeyRunsAndItsEventsCarryCloudEventsHeaders() throws Exception {
        send(1, null, ScaleOutAndFailureTest.shortJob("no-key"));
        awaitFinished("no-key");
        List<ConsumerRecord<String, byte[]>> records = results.ofJob("no-key");
        assertThat(last(results.events("no-key"))).isInstanceOf(AttributionEvent.Completed.class);
        for (ConsumerRecord<String, byte[]> r : records) {
            AttributionEvent e = Protocol.decodeEvent(r.value());
            assertThat(r.key()).isEqualTo("no-key");
            assertThat(header(r, "ce_specversion")).isEqualTo("1.0");
            assertThat(header(r, "ce_id")).isEqualTo("no-key-" + e.seq());
            assertThat(header(r, "ce_source")).isEqualTo("urn:llm-attrib:worker:records-worker");
            assertThat(header(r, "ce_subject")).isEqualTo("no-key");
            assertThat(header(r, "content-type")).isEqualTo("application/json");
            assertThat(Instant.parse(header(r, "ce_time"))).isBefore(Instant.now().plusSeconds(1));
        }
        assertThat(records).extracting(r -> header(r, "ce_type")).first().isEqualTo("org.llmattrib.attribution.accepted");
        assertThat(records).extracting(r -> header(r, "ce_type")).last().isEqualTo("org.llmattrib.attribution.completed");
        assertThat(records).extracting(r -> header(r, "ce_type")).contains("org.llmattrib.attribution.token");
    }

    @Test
    void cancelsFindTheirJobWhateverItsKeyAndApplyOnlyToRequestsSentBeforeThem() throws Exception {
        String running = "keyed-elsewhere";
        String queued = "queued-then-cancelled";
        send(0, "another-key", ScaleOutAndFailureTest.longJob(running));
        send(0, null, ScaleOutAndFailureTest.shortJob(queued));
        await("first token of " + running).atMost(Duration.ofSeconds(60))
                .until(() -> results.events(running).stream().anyMatch(e -> e instanceof AttributionEvent.Token));
        client.cancel(queued).join();
        client.cancel(running).join();
        awaitFinished(running);
        awaitFinished(queued);
        assertThat(last(results.events(running))).isInstanceOfSatisfying(AttributionEvent.Failed.class,
                f -> assertThat(f.code()).isEqualTo("cancelled"));
        assertThat(results.events(queued)).singleElement().isInstanceOfSatisfying(AttributionEvent.Failed.class,
                f -> assertThat(f.code()).isEqualTo("cancelled"));

        // both job ids, submitted again after their cancels, run normally
        int before = results.events(running).size();
        send(1, running, ScaleOutAndFailureTest.shortJob(running));
        send(0, queued, ScaleOutAndFailureTest.shortJob(queued));
        await("reruns completed").atMost(Duration.ofSeconds(60)).until(() ->
                results.events(running).stream().anyMatch(e -> e instanceof AttributionEvent.Completed)
                        && results.events(queued).stream().anyMatch(e -> e instanceof AttributionEvent.Completed));
        assertThat(results.events(running).subList(before, results.events(running).size()))
                .first().isInstanceOf(AttributionEvent.Accepted.class);
    }

    @Test
    void aJobIdBelongsToOneRequestAndAnIdenticalResubmissionIsANoOp() throws Exception {
        String id = "dup-1";
        byte[] original = ScaleOutAndFailureTest.shortJob(id);
        send(0, id, original);
        awaitFinished(id);
        List<AttributionEvent> first = results.events(id);
        assertThat(last(first)).isInstanceOf(AttributionEvent.Completed.class);

        ObjectNode other = ScaleOutAndFailureTest.example("seed-token-feature-ablation", id);
        other.put("target", " tennis");
        send(0, id, Protocol.JSON.writeValueAsBytes(other));
        // the same request again, formatted differently: the same job
        send(1, id, Protocol.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(Protocol.JSON.readTree(original)));
        send(0, "dup-sentinel-0", ScaleOutAndFailureTest.shortJob("dup-sentinel-0"));
        send(1, "dup-sentinel-1", ScaleOutAndFailureTest.shortJob("dup-sentinel-1"));
        awaitFinished("dup-sentinel-0");
        awaitFinished("dup-sentinel-1");

        List<AttributionEvent> all = results.events(id);
        assertThat(all.subList(0, first.size())).isEqualTo(first);
        assertThat(all.subList(first.size(), all.size())).singleElement()
                .isInstanceOfSatisfying(AttributionEvent.Failed.class, f -> {
                    assertThat(f.code()).isEqualTo("duplicate_job_id");
                    assertThat(f.field()).isEqualTo("job_id");
                });
        assertThat(all).filteredOn(e -> e instanceof AttributionEvent.Accepted).hasSize(1);
        assertThat(all).filteredOn(e -> e instanceof AttributionEvent.Completed).hasSize(1);
    }
}
