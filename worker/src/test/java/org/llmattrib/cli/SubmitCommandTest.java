package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.attribution.Limits;
import org.llmattrib.cli.CommandLineTest.Result;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;

/**
 * `attrib submit` against a real broker and worker, as README runs it: the same request twice shows the
 * job's results at once instead of waiting for a run that never comes; a failed job id runs again.
 */
class SubmitCommandTest {
    static EmbeddedKafka kafka;
    static AttributionWorker worker;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(2);
        worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "submit-workers", "submit-worker", 0, null, Limits.cpu(), Map.of(),
                QueueMode.SHARE, 3));
    }

    @AfterAll
    static void stop() {
        if (worker != null) {
            worker.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    static Path request(Path dir, String example, String jobId) throws IOException {
        ObjectNode node = example(example);
        if (jobId == null) {
            node.remove("job_id");
        } else {
            node.put("job_id", jobId);
        }
        Path file = dir.resolve((jobId == null ? "no-id" : jobId) + ".json");
        Files.write(file, Protocol.JSON.writeValueAsBytes(node));
        return file;
    }

    static ObjectNode example(String name) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            return (ObjectNode) Protocol.JSON.readTree(in);
        }
    }

    static Result submit(Path file, String... more) {
        return submit(new ByteArrayOutputStream(), file, more);
    }

    static Result submit(ByteArrayOutputStream printed, Path file, String... more) {
        return CommandLineTest.run(printed, CommandLineTest.concat(List.of("submit", "--bootstrap", kafka.bootstrapServers(),
                "--request", file.toString(), "--timeout", "PT90S"), more));
    }

    static List<AttributionEvent> events(Result r) {
        return r.out().lines().map(l -> Protocol.decodeEvent(l.getBytes(StandardCharsets.UTF_8))).toList();
    }

    @Test
    void theSameRequestAgainShowsItsJobsResultsAtOnceAndADifferentOneIsRefused(@TempDir Path dir) throws Exception {
        Path file = request(dir, "seed-token-feature-ablation", "submit-twice");
        Result first = submit(file, "--json");
        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(events(first)).last().isInstanceOf(AttributionEvent.Completed.class);

        Result again = submit(file, "--json");
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(again.took()).isLessThan(Duration.ofSeconds(30));
        assertThat(again.out()).as("the job's events, replayed").isEqualTo(first.out());
        assertThat(again.err()).contains("job submit-twice: this request completed already (worker submit-worker)")
                .contains("--job-id");

        Result shown = submit(file);
        assertThat(shown.exitCode()).as(shown.err()).isZero();
        assertThat(shown.out()).contains("job submit-twice accepted by submit-worker").contains(" Palm").contains("done in");

        ObjectNode other = example("seed-token-feature-ablation");
        other.put("job_id", "submit-twice").put("target", " tennis");
        Path otherFile = dir.resolve("other.json");
        Files.write(otherFile, Protocol.JSON.writeValueAsBytes(other));
        Result refused = submit(otherFile, "--json");
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(events(refused)).singleElement().isInstanceOfSatisfying(AttributionEvent.Failed.class,
                f -> assertThat(f.code()).isEqualTo("duplicate_job_id"));
    }

    @Test
    void aRequestWithoutAJobIdGetsOneAndAFailedJobIdRunsAgain(@TempDir Path dir) throws Exception {
        Result generated = submit(request(dir, "seed-token-feature-ablation", null), "--json");
        assertThat(generated.exitCode()).as(generated.err()).isZero();
        String id = events(generated).get(0).jobId();
        assertThat(id).matches("job-[0-9a-f-]{36}");
        assertThat(events(generated)).allMatch(e -> e.jobId().equals(id)).last()
                .isInstanceOf(AttributionEvent.Completed.class);
        assertThat(generated.err()).contains("job id " + id + " (generated: ");

        ObjectNode unknownLayer = example("seed-lig-embeddings");
        unknownLayer.put("job_id", "submit-reused").putArray("layers").add("model.layers.99.mlp");
        Path failing = dir.resolve("failing.json");
        Files.write(failing, Protocol.JSON.writeValueAsBytes(unknownLayer));
        Result failed = submit(failing, "--json");
        assertThat(failed.exitCode()).isEqualTo(1);
        assertThat(events(failed)).last().isInstanceOfSatisfying(AttributionEvent.Failed.class,
                f -> assertThat(f.code()).isEqualTo("unknown_layer"));

        for (Path file : List.of(failing, request(dir, "seed-lig-embeddings", "submit-reused"))) {
            Result rerun = submit(file, "--json");
            assertThat(events(rerun)).as("a new run, not the failed one replayed").first()
                    .isInstanceOf(file == failing ? AttributionEvent.Failed.class : AttributionEvent.Accepted.class);
            assertThat(rerun.err()).doesNotContain("already");
        }
    }

    /**
     * The worker's side is written by the test, so the job is running for sure when the request is
     * submitted again: a first run that failed (the id was reused), a refusal of another request, then
     * the running job's first events, and its status on the jobs topic.
     */
    @Test
    void theSameRequestWhileItsJobRunsReplaysTheRunningJobsEventsThenFollowsIt(@TempDir Path dir) throws Exception {
        String id = "submit-running";
        Path file = request(dir, "seed-token-feature-ablation", id);
        String hash = JobStatus.requestHash(Protocol.decodeRequest(Files.readAllBytes(file)));
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()))) {
            for (ObjectNode event : List.of(event("accepted", id, 0, "first-run"), event("failed", id, 1, "cancelled"),
                    event("failed", id, 0, "duplicate_job_id"), event("accepted", id, 0, "second-run"),
                    event("token", id, 1, null))) {
                producer.send(new ProducerRecord<>(Protocol.RESULTS_TOPIC, id, Protocol.JSON.writeValueAsBytes(event))).get();
            }
            producer.send(new ProducerRecord<>(Protocol.JOBS_TOPIC, id, Protocol.encode(JobStatus.of(id, hash,
                    "attribution.requests/0@0", "second-run", JobStatus.State.RUNNING)))).get();

            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            CompletableFuture<Result> following = CompletableFuture.supplyAsync(() -> submit(printed, file, "--json"));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> following.isDone() || printed.toString(StandardCharsets.UTF_8).lines().count() >= 2);
            assertThat(following).as("still following the running job").isNotDone();
            for (ObjectNode event : List.of(event("token", id, 2, null), event("completed", id, 3, null))) {
                producer.send(new ProducerRecord<>(Protocol.RESULTS_TOPIC, id, Protocol.JSON.writeValueAsBytes(event))).get();
            }
            Result r = following.get();
            assertThat(r.exitCode()).as(r.err()).isZero();
            List<AttributionEvent> events = events(r);
            assertThat(events).extracting(AttributionEvent::seq).containsExactly(0L, 1L, 2L, 3L);
            assertThat(events.get(0)).isInstanceOfSatisfying(AttributionEvent.Accepted.class,
                    a -> assertThat(a.worker()).isEqualTo("second-run"));
            assertThat(events).last().isInstanceOf(AttributionEvent.Completed.class);
            assertThat(r.err()).contains("job " + id + ": this request is running already (worker second-run)");
        }
    }

    /** An event like protocol's examples, of this job, seq and worker (accepted) or code (failed). */
    static ObjectNode event(String type, String jobId, long seq, String workerOrCode) throws IOException {
        ObjectNode e = example("event-" + type);
        e.put("job_id", jobId).put("seq", seq);
        if (workerOrCode != null) {
            e.put(type.equals("accepted") ? "worker" : "code", workerOrCode);
        }
        return e;
    }
}
