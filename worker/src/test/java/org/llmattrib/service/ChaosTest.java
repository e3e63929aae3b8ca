package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * Bounded chaos on a real broker and real workers: workers killed with SIGKILL mid-job again and
 * again, and the broker stopped and restarted mid-job. What must hold: no job is lost, every job's
 * event stream is complete once deduplicated on (job_id, seq) and ends with exactly one
 * {@code completed}, a rerun publishes the same numbers, and the workers are live and ready at the
 * end.
 *
 * <p>The tests rely only on what an operator sees: the command line's flags, the events on
 * {@code attribution.results} and the health endpoints; not on how the workers share the requests
 * (consumer group or share group). {@code -Dchaos.kills=20} kills more often (default 10);
 * {@code -Dchaos.restarts=4} restarts the broker more often (default 2: a SIGTERM, then a SIGKILL).
 */
class ChaosTest {
    static final int KILLS = Integer.getInteger("chaos.kills", 10);
    static final int RESTARTS = Integer.getInteger("chaos.restarts", 2);
    static final Path LOGS = Path.of("target", "chaos").toAbsolutePath();

    // ---------------------------------------------------------------------------------------------

    @Test
    void workersKilledMidJobAgainAndAgainLoseNoJobAndRerunsRepeatTheNumbers() throws Exception {
        long t0 = System.nanoTime();
        String group = "chaos-kill";
        List<Process> processes = new ArrayList<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics();
            String bootstrap = kafka.bootstrapServers();
            try (EventLog results = new EventLog(bootstrap);
                    AttributionClient client = new AttributionClient(bootstrap);
                    AttributionWorker rescuer = AttributionWorker.start(new AttributionWorker.Settings(bootstrap,
                            TestModels.tinyLlama3Dir(), "cpu", group, "rescuer", 0, null, Limits.cpu(),
                            Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), QueueMode.SHARE, 3))) {
                Jobs jobs = new Jobs(client, results, "kill-");
                Map<String, Integer> killsOf = new LinkedHashMap<>();
                List<String> log = new ArrayList<>();
                int killed = 0;
                int rounds = 0;
                while (killed < KILLS) {
                    assertThat(++rounds).as("rounds to get %d kills mid-job", KILLS).isLessThanOrEqualTo(2 * KILLS);
                    String victimId = "victim-" + rounds;
                    Path stderr = LOGS.resolve(victimId + ".stderr.log");
                    long started = System.nanoTime();
                    Process victim = ServiceProcesses.worker(bootstrap, group, stderr, "--instance-id", victimId);
                    processes.add(victim);
                    long ready = System.nanoTime();
                    // odd rounds kill right after `accepted`, even ones after the first token (numbers to compare)
                    boolean afterToken = rounds % 2 == 0;
                    String job = awaitJobRunningOn(victimId, victim, stderr, jobs, killsOf, afterToken);
                    victim.destroyForcibly();
                    assertThat(victim.waitFor(30, TimeUnit.SECONDS)).as(victimId + " died").isTrue();
                    assertThat(victim.exitValue()).as("exit status of a SIGKILLed JVM").isEqualTo(128 + 9);
                    killsOf.merge(job, 1, Integer::sum);
                    // what the victim published before it died is on the topic by now
                    Thread.sleep(500);
                    boolean midJob = results.events(job).stream().noneMatch(e -> e instanceof AttributionEvent.Completed);
                    if (midJob) {
                        killed++;
                    }
                    log.add(String.format("%s: ready in %.1f s, killed %.1f s later running %s after %s%s", victimId,
                            (ready - started) / 1e9, (System.nanoTime() - ready) / 1e9, job,
                            afterToken ? "a token" : "accepted", midJob ? "" : " (already completed: not counted)"));
                }

                // one more worker process that is left alive: the group works with a fresh process after the chaos
                Path survivorLog = LOGS.resolve("survivor.stderr.log");
                Process survivor = ServiceProcesses.worker(bootstrap, group, survivorLog, "--instance-id", "survivor");
                processes.add(survivor);
                jobs.submitBatch(); // work for whoever is there now
                try {
                    await("every job completed").atMost(Duration.ofMinutes(6)).pollInterval(Duration.ofMillis(250))
                            .until(() -> jobs.ids.stream().allMatch(id -> completed(results.events(id))));
                } catch (ConditionTimeoutException e) {
                    throw new AssertionError(e.getMessage() + "\n" + jobs.report() + "\n" + String.join("\n", log)
                            + "\nsurvivor stderr:\n" + ServiceProcesses.tail(ServiceProcesses.read(survivorLog), 3000), e);
                }

                Figures f = checkEveryJob(jobs.ids, results);
                int survivorPort = ServiceProcesses.metricsPort(survivorLog);
                await("the workers are live and ready").atMost(Duration.ofSeconds(60)).until(() ->
                        rescuer.live() && rescuer.ready()
                                && ServiceProcesses.http(rescuer.metricsPort(), "/health/live") == 200
                                && ServiceProcesses.http(rescuer.metricsPort(), "/health/ready") == 200
                                && survivor.isAlive()
                                && ServiceProcesses.http(survivorPort, "/health/live") == 200
                                && ServiceProcesses.http(survivorPort, "/health/ready") == 200);
                assertThat(killsOf.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(rounds);
                assertThat(f.rerunJobs).as("jobs run more than once").isGreaterThanOrEqualTo(killed);
                System.err.printf("CHAOS kill -9: %d kills mid-job in %d rounds (%d jobs killed), %d jobs, all completed"
                        + " once after dedup; %d events, %d duplicate (job_id, seq), %d jobs rerun, every rerun equal;"
                        + " %.0f s%n%s%n", killed, rounds, killsOf.size(), jobs.ids.size(), f.events, f.duplicates,
                        f.rerunJobs, (System.nanoTime() - t0) / 1e9, String.join("\n", log));
            } finally {
                for (Process p : processes) {
                    if (p.isAlive()) {
                        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    /**
     * Waits until the victim has accepted a job not completed by anyone and never killed before (a
     * job is killed once at most: a request that keeps killing its workers is a poison job, not the
     * subject here) and, with {@code afterToken}, published a token of it; submits more jobs whenever
     * none is waiting. Returns the job's id.
     */
    static String awaitJobRunningOn(String victimId, Process victim, Path stderr, Jobs jobs,
            Map<String, Integer> killsOf, boolean afterToken) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        long lastBatch = 0;
        while (System.nanoTime() < deadline) {
            if (!victim.isAlive()) {
                throw new AssertionError(victimId + " exited with " + victim.exitValue() + ":\n"
                        + ServiceProcesses.tail(ServiceProcesses.read(stderr), 4000));
            }
            List<String> waiting = new ArrayList<>();
            for (String id : jobs.ids) {
                List<AttributionEvent> events = jobs.results.events(id);
                if (events.isEmpty()) {
                    waiting.add(id);
                    continue;
                }
                if (completed(events) || killsOf.containsKey(id)) {
                    continue;
                }
                int acceptedByVictim = -1;
                for (int i = 0; i < events.size(); i++) {
                    if (events.get(i) instanceof AttributionEvent.Accepted a && victimId.equals(a.worker())) {
                        acceptedByVictim = i;
                    }
                }
                if (acceptedByVictim >= 0 && (!afterToken || events.subList(acceptedByVictim, events.size()).stream()
                        .anyMatch(e -> e instanceof AttributionEvent.Token))) {
                    return id;
                }
            }
            if (waiting.isEmpty() && System.nanoTime() - lastBatch > TimeUnit.SECONDS.toNanos(2)) {
                jobs.submitBatch();
                lastBatch = System.nanoTime();
            }
            Thread.sleep(50);
        }
        throw new AssertionError(victimId + " never ran a fresh job within 3 min\n" + jobs.report() + "\n"
                + victimId + " stderr:\n" + ServiceProcesses.tail(ServiceProcesses.read(stderr), 4000));
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void aWorkerRecoversFromBrokerRestartsMidJobAndEveryJobCompletes(@TempDir Path dir) throws Exception {
        long t0 = System.nanoTime();
        int port = ServiceProcesses.freePort();
        String bootstrap = "127.0.0.1:" + port;
        Path data = dir.resolve("kafka-data");
        Process broker = ServiceProcesses.broker(port, data, LOGS.resolve("broker-1.out"));
        try {
            AttributionWorker worker = null;
            // the client may wait for the broker's return: longer than its default 15 s of metadata wait
            try (EventLog results = new EventLog(bootstrap);
                    AttributionClient client = new AttributionClient(bootstrap, new Properties(), Duration.ofMinutes(3))) {
                worker = AttributionWorker.start(new AttributionWorker.Settings(bootstrap, TestModels.tinyLlama3Dir(),
                        "cpu", "chaos-restart", "restart-worker", 0, null, Limits.cpu(),
                        Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), QueueMode.SHARE, 3));
                AttributionWorker w = worker;
                Jobs jobs = new Jobs(client, results, "restart-");
                List<String> outages = new ArrayList<>();
                long lastRestart = 0;
                for (int r = 1; r <= RESTARTS; r++) {
                    // odd outages: SIGTERM (a clean stop); even ones: SIGKILL (the broker's JVM dies mid-write)
                    boolean hard = r % 2 == 0;
                    // each outage hits fresh jobs: the earlier ones are done first
                    await("the jobs before outage " + r + " completed").atMost(Duration.ofMinutes(4))
                            .pollInterval(Duration.ofMillis(250))
                            .until(() -> jobs.ids.stream().allMatch(id -> completed(results.events(id))));
                    int before = jobs.ids.size();
                    jobs.submitBatch();
                    jobs.submitBatch();
                    List<String> batch = List.copyOf(jobs.ids.subList(before, jobs.ids.size()));
                    await("a job running").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20)).until(() ->
                            batch.stream().map(results::events).anyMatch(ChaosTest::running));
                    List<String> runningAtStop = batch.stream().filter(id -> running(results.events(id))).toList();
                    long stopAt = System.nanoTime();
                    if (hard) {
                        broker.destroyForcibly();
                    } else {
                        broker.destroy();
                    }
                    assertThat(broker.waitFor(90, TimeUnit.SECONDS)).as("the broker stopped").isTrue();
                    long stopped = System.nanoTime();
                    // a request sent while the broker is down waits in the client's producer
                    CompletableFuture<RecordMetadata> sentWhileDown = CompletableFuture
                            .supplyAsync(() -> jobs.submit(jobs.nextId())).thenCompose(f -> f);
                    // without its broker a worker cannot receive jobs: not ready, but live (no restart)
                    await("the worker not ready while the broker is down").atMost(Duration.ofSeconds(20))
                            .pollInterval(Duration.ofMillis(250))
                            .until(() -> ServiceProcesses.http(w.metricsPort(), "/health/ready") == 503);
                    assertThat(ServiceProcesses.http(w.metricsPort(), "/health/live")).as("live while the broker is down")
                            .isEqualTo(200);
                    boolean liveWhileDown = w.live();
                    broker = ServiceProcesses.broker(port, data, LOGS.resolve("broker-" + (r + 1) + ".out"));
                    lastRestart = System.nanoTime();
                    sentWhileDown.get(2, TimeUnit.MINUTES);
                    outages.add(String.format("%s %s while %s ran: stopped in %.1f s, down %.1f s, worker live while"
                            + " down: %s", hard ? "SIGKILL" : "SIGTERM", "broker", runningAtStop,
                            (stopped - stopAt) / 1e9, (lastRestart - stopped) / 1e9, liveWhileDown));
                }

                try {
                    await("every job completed after the restarts").atMost(Duration.ofMinutes(4))
                            .pollInterval(Duration.ofMillis(250))
                            .until(() -> jobs.ids.stream().allMatch(id -> completed(results.events(id))));
                } catch (ConditionTimeoutException e) {
                    throw new AssertionError(e.getMessage() + "; worker live " + w.live() + ", ready " + w.ready()
                            + "\n" + jobs.report(), e);
                }
                long allDone = System.nanoTime();
                Figures f = checkEveryJob(jobs.ids, results);
                await("the worker is live and ready again").atMost(Duration.ofSeconds(60)).until(() ->
                        w.live() && w.ready() && ServiceProcesses.http(w.metricsPort(), "/health/live") == 200
                                && ServiceProcesses.http(w.metricsPort(), "/health/ready") == 200);
                // and it still takes new work
                String after = jobs.nextId();
                jobs.submit(after).get(30, TimeUnit.SECONDS);
                await("a job submitted after the recovery completed").atMost(Duration.ofMinutes(2))
                        .until(() -> completed(results.events(after)));
                assertThat(checkEveryJob(List.of(after), results).duplicates).isZero();
                System.err.printf("CHAOS broker restarts: %d, %d jobs, all completed once after dedup %.0f s after the"
                        + " last restart; %d events, %d duplicate (job_id, seq), %d jobs rerun, every rerun equal;"
                        + " %.0f s%n%s%n", RESTARTS, jobs.ids.size() - 1, (allDone - lastRestart) / 1e9, f.events,
                        f.duplicates, f.rerunJobs, (System.nanoTime() - t0) / 1e9, String.join("\n", outages));
            } finally {
                if (worker != null) {
                    worker.close();
                }
            }
        } finally {
            if (broker.isAlive() && !ServiceProcesses.stop(broker, Duration.ofSeconds(60))) {
                broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    record Figures(int events, int duplicates, int rerunJobs) {}

    /**
     * Every job, deduplicated on (job_id, seq): no {@code failed}, seqs 0..n without a gap, accepted
     * first, exactly one {@code completed} and it is last; the copies of one seq (a rerun) are equal
     * in everything but the worker's name and the timings.
     */
    static Figures checkEveryJob(List<String> ids, EventLog results) {
        int events = 0;
        int duplicates = 0;
        int rerunJobs = 0;
        for (String id : ids) {
            List<AttributionEvent> all = results.events(id);
            events += all.size();
            assertThat(all).as(id + ": failed events").noneMatch(e -> e instanceof AttributionEvent.Failed);
            TreeMap<Long, List<AttributionEvent>> bySeq = new TreeMap<>();
            all.forEach(e -> bySeq.computeIfAbsent(e.seq(), k -> new ArrayList<>()).add(e));
            duplicates += all.size() - bySeq.size();
            if (all.stream().filter(e -> e instanceof AttributionEvent.Accepted).count() > 1) {
                rerunJobs++;
            }
            long last = bySeq.lastKey();
            assertThat(bySeq.keySet()).as(id + ": seqs after dedup").containsExactlyElementsOf(
                    LongStream.rangeClosed(0, last).boxed().toList());
            assertThat(bySeq.firstEntry().getValue().get(0)).as(id + ": seq 0").isInstanceOf(AttributionEvent.Accepted.class);
            assertThat(bySeq.lastEntry().getValue().get(0)).as(id + ": last seq").isInstanceOf(AttributionEvent.Completed.class);
            assertThat(bySeq.entrySet().stream().filter(e -> e.getValue().get(0) instanceof AttributionEvent.Completed)
                    .map(Map.Entry::getKey).toList()).as(id + ": seqs of completed events").containsExactly(last);
            for (List<AttributionEvent> copies : bySeq.values()) {
                Object first = comparable(copies.get(0));
                for (AttributionEvent copy : copies.subList(1, copies.size())) {
                    assertThat(comparable(copy)).as(id + " seq " + copy.seq() + ": a rerun's copy").isEqualTo(first);
                }
            }
        }
        return new Figures(events, duplicates, rerunJobs);
    }

    /** An event without what differs between two runs of one job by design: the worker and the timings. */
    static Object comparable(AttributionEvent e) {
        if (e instanceof AttributionEvent.Accepted a) {
            return List.of(a.getClass(), a.jobId(), a.seq(), String.valueOf(a.model()), String.valueOf(a.method()),
                    String.valueOf(a.features()), String.valueOf(a.targetTokens()));
        }
        if (e instanceof AttributionEvent.Completed c) {
            return List.of(c.getClass(), c.jobId(), c.seq(), String.valueOf(c.seqAttr()), String.valueOf(c.outputTokens()),
                    String.valueOf(c.outputTokenIds()), String.valueOf(c.layersSeqAttr()));
        }
        return e; // tokens: every number
    }

    static boolean completed(List<AttributionEvent> events) {
        return events.stream().anyMatch(e -> e instanceof AttributionEvent.Completed);
    }

    static boolean running(List<AttributionEvent> events) {
        return !events.isEmpty() && !completed(events)
                && events.get(events.size() - 1) instanceof AttributionEvent.Token;
    }

    /** The results topic from its beginning, decoded once, by job, in publication order. */
    static final class EventLog implements AutoCloseable {
        private final TopicRecords records;
        private final Map<String, List<AttributionEvent>> byJob = new java.util.HashMap<>();
        private int decoded;

        EventLog(String bootstrap) {
            records = new TopicRecords(bootstrap, Protocol.RESULTS_TOPIC);
        }

        /** Every event of the job read so far, duplicates included. */
        synchronized List<AttributionEvent> events(String jobId) {
            List<org.apache.kafka.clients.consumer.ConsumerRecord<String, byte[]>> all = records.all();
            for (; decoded < all.size(); decoded++) {
                AttributionEvent e = Protocol.decodeEvent(all.get(decoded).value());
                byJob.computeIfAbsent(e.jobId(), k -> new ArrayList<>()).add(e);
            }
            return List.copyOf(byJob.getOrDefault(jobId, List.of()));
        }

        @Override
        public void close() throws InterruptedException {
            records.close();
        }
    }

    /** The jobs of one test: ids in submission order, each batch one job per request partition. */
    static final class Jobs {
        final List<String> ids = new java.util.concurrent.CopyOnWriteArrayList<>();
        final AttributionClient client;
        final EventLog results;
        final String prefix;
        private int next;

        Jobs(AttributionClient client, EventLog results, String prefix) {
            this.client = client;
            this.results = results;
            this.prefix = prefix;
        }

        /** Two jobs: one for each worker of the share group. */
        synchronized void submitBatch() {
            submit(nextId()).join();
            submit(nextId()).join();
        }

        synchronized String nextId() {
            return prefix + next++;
        }

        CompletableFuture<RecordMetadata> submit(String id) {
            ids.add(id);
            try {
                return client.submitRaw(id, job(id));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        String report() {
            return ids.stream().map(id -> id + ": " + results.events(id).stream()
                    .map(e -> e.getClass().getSimpleName() + "#" + e.seq()
                            + (e instanceof AttributionEvent.Accepted a ? "(" + a.worker() + ")" : ""))
                    .collect(Collectors.joining(" "))).collect(Collectors.joining("\n"));
        }
    }

    /**
     * The seed request for feature ablation with its target said six times (48 target tokens, an
     * event per token; about a second in a fresh worker process on the tiny model), so that a kill
     * right after {@code accepted} or the first token lands mid-job. With the seed's 8 tokens (some
     * 0.1 s) nearly half the kills came after the job had completed.
     */
    static byte[] job(String jobId) throws IOException {
        ObjectNode request = ScaleOutAndFailureTest.example("seed-token-feature-ablation", jobId);
        request.put("target", request.get("target").asText().repeat(6));
        return Protocol.JSON.writeValueAsBytes(request);
    }
}
