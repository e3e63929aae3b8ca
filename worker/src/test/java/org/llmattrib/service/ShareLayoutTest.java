package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * Share mode shares with the DEFAULT layout ({@link ServiceTopics}: what {@code attrib broker}
 * creates) and the broker's default share-group settings (30 s acquisition locks, 5 s heartbeats,
 * 45 s share sessions): three workers, two in this JVM and an {@code attrib worker} process that is
 * SIGKILLed.
 *
 * <p>With the old layout (6 request partitions) the broker's assignor gave each worker 3 partitions
 * of its own: a short job on the busy worker's partitions waited for the long job to end, and a
 * killed worker's partitions were served by nobody for 45 s. The start delay is measured from the
 * broker's timestamps: the request record's and its {@code accepted} event's.
 */
class ShareLayoutTest {
    static final String GROUP = "layout-workers";
    /**
     * The bound on a short job's start delay: the issue asks for 2 s and a quiet machine measures
     * tens of milliseconds (printed as SHARE-LAYOUT lines); the test allows 5 s for a loaded CI
     * machine, still far below the 30 s lock and the 30-118 s seen with 6 partitions.
     */
    static final Duration SHORT_START = Duration.ofSeconds(5);
    /** The broker's default acquisition lock (EmbeddedKafka sets it as a fresh broker has it). */
    static final Duration LOCK = Duration.ofSeconds(30);
    static final Path LOGS = Path.of("target", "share-layout").toAbsolutePath();

    EmbeddedKafka kafka;
    AttributionClient client;
    TopicRecords results;
    final List<AttributionWorker> inProcess = new ArrayList<>();
    Process victim;
    final Map<String, Long> sentAt = new LinkedHashMap<>();

    @BeforeEach
    void start() throws Exception {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics();
        client = new AttributionClient(kafka.bootstrapServers());
        results = new TopicRecords(kafka.bootstrapServers(), Protocol.RESULTS_TOPIC);
        for (String id : List.of("stays-a", "stays-b")) {
            inProcess.add(AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                    TestModels.tinyLlama3Dir(), "cpu", GROUP, id, 0, null, Limits.cpu(), Map.of(), QueueMode.SHARE, 3)));
        }
        victim = ServiceProcesses.worker(kafka.bootstrapServers(), GROUP, LOGS.resolve("victim.stderr.log"),
                "--instance-id", "victim");
    }

    @AfterEach
    void stop() throws Exception {
        if (victim != null) {
            victim.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (AttributionWorker w : inProcess) {
            w.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {results, client, kafka}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    void shortJobsBehindALongOneStartAtOnceAndAKilledWorkersQueueIsServedBySurvivors() throws Exception {
        // 1. a long job holds one worker; short jobs sent meanwhile start on the others within 2 s
        List<String> longs = new ArrayList<>(List.of(submit("long-1", longJob("long-1"))));
        String busy = awaitAccepted("long-1", Duration.ofSeconds(30)).worker();
        for (int i = 0; i < 6; i++) {
            String job = submit("short-" + i, ShareQueueTest.shortJob("short-" + i));
            awaitFinished(job, Duration.ofSeconds(30));
            assertThat(startDelay(job)).as("start delay of %s behind the long job", job).isLessThan(SHORT_START);
            assertThat(accepted(job).worker()).as("worker of %s", job).isNotEqualTo(busy);
            Thread.sleep(300);
        }
        assertThat(results.finished("long-1")).as("the long job outlived the short ones").isFalse();

        // 2. the process worker holds a long job (more long jobs until one lands there; the others
        // are cancelled) and is killed: its job runs again at once on one survivor, and jobs sent
        // after the kill start within 2 s on the other
        String held = busy.equals("victim") ? "long-1" : null;
        while (held == null) {
            String job = submit("long-" + (longs.size() + 1), longJob("long-" + (longs.size() + 1)));
            longs.add(job);
            assertThat(longs).as("long jobs sent to occupy the victim").hasSizeLessThanOrEqualTo(3);
            held = awaitAccepted(job, Duration.ofSeconds(10)).worker().equals("victim") ? job : null;
        }
        for (String job : longs) {
            if (!job.equals(held)) {
                client.cancel(job).join();
                awaitFinished(job, Duration.ofSeconds(30));
            }
        }
        int runsBefore = acceptedAll(held).size();
        victim.destroyForcibly();
        assertThat(victim.waitFor(10, TimeUnit.SECONDS)).isTrue();
        long killedAt = System.currentTimeMillis();
        for (int i = 0; i < 3; i++) {
            String job = submit("after-kill-" + i, ShareQueueTest.shortJob("after-kill-" + i));
            awaitFinished(job, Duration.ofSeconds(30));
            assertThat(startDelay(job)).as("start delay of %s after the kill", job).isLessThan(SHORT_START);
        }
        String rerun = held;
        await("the killed job runs again on a survivor").atMost(LOCK.plusSeconds(10))
                .until(() -> acceptedAll(rerun).size() > runsBefore);
        long restartedAfter = timestamp(acceptedRecords(held).get(runsBefore)) - killedAt;
        System.out.printf("SHARE-LAYOUT killed job restarted %d ms after the kill%n", restartedAfter);
        assertThat(restartedAfter).as("ms from the kill to the rerun of the held job").isLessThan(LOCK.toMillis() + 5000);
        client.cancel(held).join();
        awaitFinished(held, Duration.ofSeconds(30));
    }

    /**
     * Two different requests with one job id, sent at the same moment, each taken by an idle worker:
     * the first claim on the jobs topic wins, the other fails with duplicate_job_id before it
     * streams anything (before the claims, both ran).
     */
    @Test
    void twoRequestsWithOneJobIdAtTheSameMomentRunOnce() throws Exception {
        for (int round = 0; round < 3; round++) {
            String job = "same-id-" + round;
            ObjectNode other = (ObjectNode) Protocol.JSON.readTree(ShareQueueTest.shortJob(job));
            other.put("target", " hiking");
            client.submitRaw(job, ShareQueueTest.shortJob(job));
            client.submitRaw(job, Protocol.JSON.writeValueAsBytes(other)).join();
            await(job + " completed and refused once").atMost(Duration.ofSeconds(30)).until(() ->
                    results.events(job).stream().anyMatch(e -> e instanceof AttributionEvent.Completed)
                            && results.events(job).stream().anyMatch(e -> e instanceof AttributionEvent.Failed));
            Thread.sleep(1000);
            List<AttributionEvent> events = results.events(job);
            assertThat(acceptedAll(job)).as("runs of %s", job).hasSize(1);
            assertThat(events).filteredOn(e -> e instanceof AttributionEvent.Failed).singleElement()
                    .isInstanceOfSatisfying(AttributionEvent.Failed.class, f -> {
                        assertThat(f.code()).isEqualTo("duplicate_job_id");
                        assertThat(f.seq()).isZero();
                    });
            assertThat(events).filteredOn(e -> e instanceof AttributionEvent.Completed).hasSize(1);
        }
    }

    // ---------------------------------------------------------------------------------------------

    String submit(String jobId, byte[] json) {
        sentAt.put(jobId, client.submitRaw(jobId, json).join().timestamp());
        return jobId;
    }

    Duration startDelay(String jobId) {
        Duration delay = Duration.ofMillis(timestamp(acceptedRecords(jobId).get(0)) - sentAt.get(jobId));
        System.out.printf("SHARE-LAYOUT %s started %d ms after it was sent%n", jobId, delay.toMillis());
        return delay;
    }

    AttributionEvent.Accepted awaitAccepted(String jobId, Duration within) {
        await(jobId + " accepted").atMost(within).until(() -> !acceptedAll(jobId).isEmpty());
        return accepted(jobId);
    }

    void awaitFinished(String jobId, Duration within) {
        await(jobId + " finished").atMost(within).until(() -> results.finished(jobId));
    }

    AttributionEvent.Accepted accepted(String jobId) {
        return acceptedAll(jobId).get(0);
    }

    List<AttributionEvent.Accepted> acceptedAll(String jobId) {
        List<AttributionEvent.Accepted> out = new ArrayList<>();
        for (AttributionEvent e : results.events(jobId)) {
            if (e instanceof AttributionEvent.Accepted a) {
                out.add(a);
            }
        }
        return out;
    }

    List<ConsumerRecord<String, byte[]>> acceptedRecords(String jobId) {
        return results.ofJob(jobId).stream()
                .filter(r -> Protocol.decodeEvent(r.value()) instanceof AttributionEvent.Accepted).toList();
    }

    static long timestamp(ConsumerRecord<String, byte[]> record) {
        return record.timestamp();
    }

    /** {@link ShareQueueTest#longJob} with its target said four times: about a minute on the tiny model. */
    static byte[] longJob(String jobId) throws Exception {
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(ShareQueueTest.longJob(jobId));
        node.put("target", node.get("target").asText().repeat(4));
        return Protocol.JSON.writeValueAsBytes(node);
    }
}
