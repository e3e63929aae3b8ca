package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * One worker with {@code --concurrency 4} on a real broker (one partition per topic, so the results
 * topic shows the order in which events were appended): three long jobs and five small ones run four
 * at once, their perturbation forwards packed together, and each streams what it streams alone;
 * cancelled jobs and an invalid one end alone.
 */
class ConcurrentJobsTest {
    static final int CONCURRENCY = 4;
    /** FLOAT32: a packed forward sums in another order than the same rows alone. */
    static final double TOLERANCE = 1e-4;

    static EmbeddedKafka kafka;
    static AttributionWorker worker;
    static AttributionClient client;
    static ShareQueueTest.Events events;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, EmbeddedKafka.FAST_SHARE_HEARTBEATS);
        kafka.createServiceTopics(1);
        worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "concurrent-workers", "concurrent-worker", 0, null, Limits.cpu(),
                Map.of(), QueueMode.SHARE, 3).withConcurrency(CONCURRENCY));
        client = new AttributionClient(kafka.bootstrapServers());
        events = new ShareQueueTest.Events(kafka.bootstrapServers());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        events.close();
        client.close();
        worker.close();
        kafka.close();
    }

    @Test
    void jobsRunAtOnceEachAsItRunsAloneAndACancelledOrInvalidJobEndsAlone() throws Exception {
        // three long jobs hold three of the four consumers until they are cancelled: they run at
        // once by construction, and the short jobs run next to them on the fourth
        List<String> held = List.of("held-1", "held-2", "held-3");
        Map<String, byte[]> jobs = new LinkedHashMap<>();
        for (String id : held) {
            jobs.put(id, longJob(id));
        }
        jobs.forEach((id, body) -> client.submitRaw(id, body).join());
        await("every long job's first token").atMost(Duration.ofSeconds(90))
                .until(() -> held.stream().allMatch(id -> events.of(id).stream().anyMatch(e -> e instanceof AttributionEvent.Token)));

        Map<String, byte[]> small = new LinkedHashMap<>();
        small.put("fa", ServiceEndToEndTest.example("seed-token-feature-ablation", "fa"));
        small.put("shapley", ServiceEndToEndTest.example("seed-template-shapley", "shapley"));
        small.put("fewshot", ServiceEndToEndTest.example("seed-fewshot-segments", "fewshot"));
        small.put("invalid", unknownLayer("invalid"));
        small.put("lig", ServiceEndToEndTest.example("seed-lig-embeddings", "lig"));
        small.forEach((id, body) -> client.submitRaw(id, body).join());
        await("every small job ended").atMost(Duration.ofSeconds(120)).until(() -> small.keySet().stream().allMatch(events::finished));
        assertThat(held).as("long jobs still running").noneMatch(events::finished);
        for (String id : held) {
            client.cancel(id).join();
        }
        await("every long job ended").atMost(Duration.ofSeconds(60)).until(() -> held.stream().allMatch(events::finished));

        assertThat(mostRunningAtOnce(events.all())).as("jobs running at once").isGreaterThanOrEqualTo(CONCURRENCY);
        // each job's first run: a record a busy member fetched ahead can start up to a lock late on
        // another member (RELIABILITY.md, "Fixed: a busy share consumer ..."); the stale copy is skipped
        for (String id : small.keySet()) {
            assertSameEvents(id, firstRun(events.of(id)), alone(small.get(id), Integer.MAX_VALUE));
        }
        AttributionEvent.Failed invalid = (AttributionEvent.Failed) events.last("invalid");
        assertThat(invalid.code()).isEqualTo("unknown_layer");
        for (String id : held) {
            List<AttributionEvent> got = firstRun(events.of(id));
            assertThat(((AttributionEvent.Failed) got.get(got.size() - 1)).code()).as(id).isEqualTo("cancelled");
            int before = got.size() - 1;
            List<AttributionEvent> stoppedAlone = alone(jobs.get(id), before);
            assertThat(stoppedAlone.size()).as(id + ": the job alone streams as far before it is cancelled").isGreaterThan(before);
            assertSameEvents(id, got.subList(0, before), stoppedAlone.subList(0, before));
        }
    }

    /** A job's events up to and including its first {@code completed} or {@code failed}. */
    static List<AttributionEvent> firstRun(List<AttributionEvent> events) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i) instanceof AttributionEvent.Completed || events.get(i) instanceof AttributionEvent.Failed) {
                return events.subList(0, i + 1);
            }
        }
        return events;
    }

    @Test
    void aConsumerGroupWorkerRefusesConcurrency() {
        assertThatThrownBy(() -> new AttributionWorker.Settings(kafka.bootstrapServers(), TestModels.tinyLlama3Dir(),
                "cpu", "g", null, 0, null, Limits.cpu(), Map.of(), QueueMode.GROUP, 3).withConcurrency(2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--concurrency 2 needs --queue share");
    }

    /** The most jobs between their accepted and their final event at one point of the results topic. */
    static int mostRunningAtOnce(List<AttributionEvent> all) {
        Set<String> running = new HashSet<>();
        int most = 0;
        for (AttributionEvent e : all) {
            if (e instanceof AttributionEvent.Accepted) {
                running.add(e.jobId());
            } else if (e instanceof AttributionEvent.Completed || e instanceof AttributionEvent.Failed) {
                running.remove(e.jobId());
            }
            most = Math.max(most, running.size());
        }
        return most;
    }

    /**
     * What {@code attrib explain} streams for the request: the job alone, on its own engine, cancelled
     * once it has streamed {@code cancelAfter} events.
     */
    static List<AttributionEvent> alone(byte[] body, int cancelAfter) {
        List<AttributionEvent> out = new ArrayList<>();
        new JobRunner(new AttributionEngine(worker.llama(), null), new RequestPlanner(worker.llama(), Limits.cpu()),
                worker.workerId()).run(body, Map.of(), () -> out.size() >= cancelAfter, () -> false, out::add);
        return out;
    }

    /** Same events in the same order: kinds, seqs, tokens, numbers (to {@link #TOLERANCE}), failure codes. */
    static void assertSameEvents(String jobId, List<AttributionEvent> got, List<AttributionEvent> alone) {
        assertThat(got).as(jobId + " events").hasSameSizeAs(alone);
        for (int i = 0; i < got.size(); i++) {
            AttributionEvent a = got.get(i);
            AttributionEvent b = alone.get(i);
            String what = jobId + " event " + i;
            assertThat(a.getClass()).as(what).isEqualTo(b.getClass());
            assertThat(a.seq()).as(what).isEqualTo(b.seq());
            if (a instanceof AttributionEvent.Token t) {
                AttributionEvent.Token u = (AttributionEvent.Token) b;
                assertThat(t.token()).as(what).isEqualTo(u.token());
                assertClose(what + " attr", t.attr(), u.attr());
                assertClose(what + " log_prob", List.of(t.logProb()), List.of(u.logProb()));
            } else if (a instanceof AttributionEvent.Completed c) {
                assertClose(what + " seq_attr", c.seqAttr(), ((AttributionEvent.Completed) b).seqAttr());
            } else if (a instanceof AttributionEvent.Failed f) {
                assertThat(f.code()).as(what).isEqualTo(((AttributionEvent.Failed) b).code());
            }
        }
    }

    static void assertClose(String what, List<Double> got, List<Double> alone) {
        assertThat(got).as(what).hasSameSizeAs(alone);
        for (int i = 0; i < got.size(); i++) {
            assertThat(Math.abs(got.get(i) - alone.get(i))).as(what + "[" + i + "]").isLessThan(TOLERANCE);
        }
    }

    /**
     * The LIG request with a target of about 280 tokens: its first token comes in about a second,
     * its last after minutes, so it runs until it is cancelled.
     */
    static byte[] longJob(String jobId) throws IOException {
        ObjectNode node = ScaleOutAndFailureTest.example("seed-lig-embeddings", jobId);
        node.put("target", " playing golf, hiking, and cooking.".repeat(40));
        return Protocol.JSON.writeValueAsBytes(node);
    }

    static byte[] unknownLayer(String jobId) throws IOException {
        ObjectNode node = ScaleOutAndFailureTest.example("seed-lig-embeddings", jobId);
        node.putArray("layers").add("model.layers.99.mlp");
        return Protocol.JSON.writeValueAsBytes(node);
    }
}
