package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * Share-group queue semantics on a real broker with ONE request partition: records, not partitions,
 * go to workers; a long job keeps its record (lock renewal) however short the lock; a job that kills
 * its workers every time is given up as {@code too_many_attempts} (also in consumer-group mode). Each
 * test has its own broker with 3 s acquisition locks.
 */
class ShareQueueTest {
    static final String GROUP = "share-workers";
    static final int LOCK_MS = 3000;
    static final int MAX_ATTEMPTS = 2;

    EmbeddedKafka kafka;
    AttributionClient client;
    Events events;
    final List<AutoCloseable> closing = new ArrayList<>();
    final List<Process> processes = new ArrayList<>();

    void startBroker(int deliveryLimit) {
        kafka = EmbeddedKafka.start(0, Map.of("group.share.record.lock.duration.ms", Integer.toString(LOCK_MS),
                "group.share.delivery.count.limit", Integer.toString(deliveryLimit)));
        kafka.createServiceTopics(1);
        client = new AttributionClient(kafka.bootstrapServers());
        events = new Events(kafka.bootstrapServers());
    }

    @AfterEach
    void stop() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        if (events != null) {
            events.close();
        }
        if (client != null) {
            client.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void aShortJobBehindALongOneOnTheSamePartitionRunsOnTheIdleWorkerMeanwhile() throws Exception {
        startBroker(5);
        startWorker("worker-a", QueueMode.SHARE);
        startWorker("worker-b", QueueMode.SHARE);

        client.submitRaw("long", longJob("long")).join();
        await("the long job started").atMost(Duration.ofSeconds(30)).until(() -> events.accepted("long").size() == 1);
        String longWorker = events.accepted("long").get(0).worker();
        client.submitRaw("short", shortJob("short")).join();

        await("the short job finished").atMost(Duration.ofSeconds(30)).until(() -> events.finished("short"));
        assertThat(events.finished("long")).as("the long job still runs when the short one is done").isFalse();
        assertThat(events.last("short")).isInstanceOf(AttributionEvent.Completed.class);
        assertThat(events.accepted("short")).singleElement().extracting(AttributionEvent.Accepted::worker)
                .as("the short job ran on the idle worker").isNotEqualTo(longWorker);

        await("the long job finished").atMost(Duration.ofSeconds(120)).until(() -> events.finished("long"));
        assertThat(events.last("long")).isInstanceOf(AttributionEvent.Completed.class);
        // it ran for several lock durations: renewals kept it with its worker, never delivered twice
        assertThat(events.accepted("long")).as("runs of the long job").hasSize(1);
        AttributionEvent.Completed done = (AttributionEvent.Completed) events.last("long");
        assertThat(done.timings().get("total_ms")).as("the long job outlived its lock").isGreaterThan(2.0 * LOCK_MS);
    }

    /**
     * Share mode counts deliveries on the broker; group mode in the compacted attempts topic (a
     * killed consumer's partition goes to the next member after its 3 s session).
     */
    @ParameterizedTest
    @EnumSource(QueueMode.class)
    void aJobThatKillsItsWorkerEveryTimeFailsWithTooManyAttemptsAndTheWorkersGoOn(QueueMode queue) throws Exception {
        startBroker(MAX_ATTEMPTS + 2);
        Path logs = Path.of("target", "queue-victims-" + queue.name().toLowerCase()).toAbsolutePath();
        List<Process> victims = List.of(startWorkerProcess("victim-1", queue, logs),
                startWorkerProcess("victim-2", queue, logs));
        awaitReady("victim-1", victims.get(0), logs);
        awaitReady("victim-2", victims.get(1), logs);

        client.submitRaw("poison", longJob("poison")).join();
        // every run of "poison" kills its worker: each accepted event is answered by a SIGKILL
        for (int run = 1; run <= MAX_ATTEMPTS; run++) {
            int runs = run;
            await("run " + run + " of the poison job").atMost(Duration.ofSeconds(30))
                    .until(() -> events.accepted("poison").size() >= runs);
            String worker = events.accepted("poison").get(run - 1).worker();
            Process victim = victims.get(Integer.parseInt(worker.substring("victim-".length())) - 1);
            victim.destroyForcibly();
            assertThat(victim.waitFor(10, TimeUnit.SECONDS)).isTrue();
        }

        startWorker("survivor", queue);
        await("the poison job was given up").atMost(Duration.ofSeconds(30)).until(() -> events.finished("poison"));
        AttributionEvent.Failed failed = (AttributionEvent.Failed) events.last("poison");
        assertThat(failed.code()).isEqualTo("too_many_attempts");
        assertThat(failed.seq()).isEqualTo(AttributionWorker.GIVE_UP_SEQ);
        assertThat(failed.message()).contains("attempt " + (MAX_ATTEMPTS + 1));
        assertThat(events.accepted("poison")).extracting(AttributionEvent.Accepted::worker)
                .containsExactlyInAnyOrder("victim-1", "victim-2");

        ConsumerRecord<String, byte[]> dead = events.deadLetters().stream().filter(r -> "poison".equals(r.key()))
                .findFirst().orElseThrow();
        assertThat(header(dead, "error.code")).isEqualTo("too_many_attempts");
        assertThat(header(dead, "error.message")).contains("attempt " + (MAX_ATTEMPTS + 1));
        assertThat(dead.value()).isEqualTo(longJob("poison"));

        // the survivor serves the next job, and the poison job is never delivered again
        int poisonEvents = events.of("poison").size();
        client.submitRaw("after-poison", shortJob("after-poison")).join();
        await("the next job").atMost(Duration.ofSeconds(30)).until(() -> events.finished("after-poison"));
        assertThat(events.last("after-poison")).isInstanceOf(AttributionEvent.Completed.class);
        assertThat(events.accepted("after-poison")).extracting(AttributionEvent.Accepted::worker).containsExactly("survivor");
        Thread.sleep(2L * LOCK_MS);
        assertThat(events.of("poison")).as("events of the poison job after it was given up").hasSize(poisonEvents);
    }

    // ---------------------------------------------------------------------------------------------

    void startWorker(String id, QueueMode queue) {
        closing.add(AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", GROUP, id, 0, null, Limits.cpu(),
                Map.of("session.timeout.ms", 3000, "heartbeat.interval.ms", 500), queue, MAX_ATTEMPTS)));
    }

    /** `attrib worker` in its own JVM (started for speed, not peak throughput), so that it can be killed with SIGKILL. */
    Process startWorkerProcess(String id, QueueMode queue, Path logs) throws IOException {
        Files.createDirectories(logs);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "-Xmx1g", "-XX:TieredStopAtLevel=1", "-Dai.djl.offline=true",
                "-cp", System.getProperty("java.class.path"), "org.llmattrib.cli.Main", "worker",
                "--bootstrap", kafka.bootstrapServers(), "--model", TestModels.tinyLlama3Dir().toAbsolutePath().toString(),
                "--group", GROUP, "--queue", queue.name().toLowerCase(), "--session-timeout-ms", "3000",
                "--max-attempts", Integer.toString(MAX_ATTEMPTS), "--instance-id", id, "--metrics-port", "0");
        Process p = new ProcessBuilder(command).redirectError(logs.resolve(id + ".stderr.log").toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        processes.add(p);
        return p;
    }

    static void awaitReady(String id, Process p, Path logs) {
        Path stderr = logs.resolve(id + ".stderr.log");
        await(id + " ready (see " + stderr + ")").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    String log = Files.exists(stderr) ? Files.readString(stderr) : "";
                    if (!p.isAlive()) {
                        throw new AssertionError(id + " exited with " + p.exitValue() + ":\n" + log);
                    }
                    return log.contains(" ready: group " + GROUP);
                });
    }

    static String header(ConsumerRecord<String, byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    /** Feature ablation on a one-token target: well under a second on the tiny model. */
    static byte[] shortJob(String jobId) throws IOException {
        ObjectNode node = ScaleOutAndFailureTest.example("seed-token-feature-ablation", jobId);
        node.put("target", " golf");
        return Protocol.JSON.writeValueAsBytes(node);
    }

    /**
     * Layer integrated gradients over 9 layers, 100 steps, 8 target tokens: about 1.3 s per token on
     * an idle machine, so it runs for more than three lock durations even there.
     */
    static byte[] longJob(String jobId) throws IOException {
        ObjectNode node = ScaleOutAndFailureTest.example("seed-lig-multilayer", jobId);
        node.put("target", " playing golf, hiking, and cooking.");
        ObjectNode method = (ObjectNode) node.get("method");
        method.put("n_steps", 100);
        method.put("internal_batch_size", 8);
        return Protocol.JSON.writeValueAsBytes(node);
    }

    /** Every event on the results topic and every dead letter, in the order the broker appended them. */
    static final class Events implements AutoCloseable {
        private final TopicRecords results;
        private final TopicRecords dead;

        Events(String bootstrap) {
            results = new TopicRecords(bootstrap, Protocol.RESULTS_TOPIC);
            dead = new TopicRecords(bootstrap, Protocol.DEAD_LETTER_TOPIC);
        }

        /** Every event so far, in the order the broker appended them. */
        List<AttributionEvent> all() {
            return results.all().stream().map(r -> Protocol.decodeEvent(r.value())).toList();
        }

        List<AttributionEvent> of(String jobId) {
            return results.events(jobId);
        }

        List<AttributionEvent.Accepted> accepted(String jobId) {
            return of(jobId).stream().filter(e -> e instanceof AttributionEvent.Accepted)
                    .map(e -> (AttributionEvent.Accepted) e).toList();
        }

        boolean finished(String jobId) {
            return results.finished(jobId);
        }

        AttributionEvent last(String jobId) {
            List<AttributionEvent> events = of(jobId);
            return events.get(events.size() - 1);
        }

        List<ConsumerRecord<String, byte[]>> deadLetters() {
            return dead.all();
        }

        @Override
        public void close() throws InterruptedException {
            results.close();
            dead.close();
        }
    }
}
