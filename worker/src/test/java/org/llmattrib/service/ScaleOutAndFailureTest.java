package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * Several workers in one group share the requests; a worker killed with SIGKILL mid-job loses
 * nothing (the next owner reruns the job from seq 0); cancellation and deadlines stop a job with a
 * {@code failed} event. One broker, 4 request/result partitions. Every test uses its own consumer
 * group whose offsets start at the current end of the requests topic (so it never replays another
 * test's requests), and stops its workers before it returns.
 */
class ScaleOutAndFailureTest {
    static final int PARTITIONS = 4;

    static EmbeddedKafka kafka;
    static Admin admin;
    static AttributionClient client;
    /** The results topic from its beginning, for the whole class. */
    static TopicRecords results;
    static final List<AttributionWorker> workers = new CopyOnWriteArrayList<>();
    static Process process;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(PARTITIONS);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
        client = new AttributionClient(kafka.bootstrapServers());
        results = new TopicRecords(kafka.bootstrapServers(), Protocol.RESULTS_TOPIC);
    }

    @AfterAll
    static void stop() throws Exception {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (AttributionWorker w : workers) {
            quietly(w::close);
        }
        if (results != null) {
            quietly(results::close);
        }
        if (client != null) {
            quietly(client::close);
        }
        if (admin != null) {
            quietly(admin::close);
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void twoWorkersInOneGroupShareTheJobsAndRunEachExactlyOnce() throws Exception {
        String group = "scale-out";
        startGroupAtEnd(group);
        AttributionWorker a = startWorker(group, "worker-a");
        AttributionWorker b = startWorker(group, "worker-b");
        try {
            // deterministic: both members hold partitions (cooperative rebalance finished) before any job is sent
            await("both workers own partitions").atMost(Duration.ofSeconds(30)).until(() -> {
                Map<TopicPartition, String> owners = owners(group);
                return owners.size() == PARTITIONS && new HashSet<>(owners.values()).equals(Set.of("worker-a", "worker-b"));
            });
            Map<TopicPartition, String> owners = owners(group);

            // job ids chosen so that two of them land on every partition: both workers must get work
            List<String> ids = jobIdsCoveringPartitions("share-", 2);
            Map<String, Integer> partitionOf = new HashMap<>();
            List<java.util.concurrent.CompletableFuture<RecordMetadata>> sent = new ArrayList<>();
            for (String id : ids) {
                sent.add(client.submitRaw(id, shortJob(id)));
            }
            for (int i = 0; i < ids.size(); i++) {
                partitionOf.put(ids.get(i), sent.get(i).join().partition());
            }
            assertThat(new HashSet<>(partitionOf.values())).as("partitions the jobs landed on")
                    .containsExactlyInAnyOrder(0, 1, 2, 3);

            await("all jobs finished").atMost(Duration.ofSeconds(60)).until(() -> ids.stream().allMatch(this::finished));
            // every request offset is committed: nothing is left to be rerun by anyone
            await("all offsets committed").atMost(Duration.ofSeconds(10))
                    .until(() -> committed(group).equals(endOffsets()));
            assertThat(a.workerId()).isEqualTo("worker-a");
            assertThat(b.workerId()).isEqualTo("worker-b");

            Set<String> acceptedBy = new HashSet<>();
            for (String id : ids) {
                List<AttributionEvent> events = results.events(id);
                assertThat(events).as(id + " completed events").filteredOn(e -> e instanceof AttributionEvent.Completed)
                        .hasSize(1);
                assertThat(events).as(id + " failed events").noneMatch(e -> e instanceof AttributionEvent.Failed);
                List<AttributionEvent.Accepted> accepted = events.stream()
                        .filter(e -> e instanceof AttributionEvent.Accepted).map(e -> (AttributionEvent.Accepted) e).toList();
                assertThat(accepted).as(id + " accepted events (no reruns)").hasSize(1);
                String owner = owners.get(new TopicPartition(Protocol.REQUESTS_TOPIC, partitionOf.get(id)));
                assertThat(accepted.get(0).worker()).as(id + " was run by the owner of its partition").isEqualTo(owner);
                acceptedBy.add(accepted.get(0).worker());
                // a complete, gap-free stream: seq 0..N
                assertThat(events).extracting(AttributionEvent::seq)
                        .containsExactlyElementsOf(IntStream.range(0, events.size()).mapToObj(Long::valueOf).toList());
            }
            assertThat(acceptedBy).as("workers named by the accepted events").containsExactlyInAnyOrder("worker-a", "worker-b");
        } finally {
            stopWorker(a);
            stopWorker(b);
        }
    }

    @Test
    void aJobWhoseWorkerIsKilledMidJobIsRerunFromSeqZeroByTheNextOwner() throws Exception {
        String group = "kill";
        startGroupAtEnd(group);
        Path stderr = Path.of("target", "scale-out-killed-worker.stderr.log").toAbsolutePath();
        process = startWorkerProcess(group, stderr);
        long pid = process.pid();
        AttributionWorker rescuer = null;
        try {
            await("the process owns every partition").atMost(Duration.ofSeconds(30)).until(() -> {
                ConsumerGroupDescription d = describe(group);
                return d.members().size() == 1 && owners(d).size() == PARTITIONS;
            });

            String id = "killed-mid-job";
            client.submitRaw(id, longJob(id)).join();
            try {
                await("first token event of " + id).atMost(Duration.ofSeconds(60))
                        .until(() -> results.events(id).stream().anyMatch(e -> e instanceof AttributionEvent.Token));
            } catch (ConditionTimeoutException e) {
                throw new AssertionError(e.getMessage() + "; events so far: " + results.events(id)
                        + "\nworker process stderr (" + stderr + "):\n" + tail(read(stderr), 4000), e);
            }
            process.destroyForcibly();
            assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("the worker process died").isTrue();
            assertThat(process.exitValue()).as("exit status of a SIGKILLed JVM").isEqualTo(128 + 9);
            assertThat(ProcessHandle.of(pid)).as("process " + pid).isEmpty();
            List<AttributionEvent> beforeKill = results.events(id);
            assertThat(beforeKill).as("the job must still be running when its worker is killed (make it longer)")
                    .noneMatch(e -> e instanceof AttributionEvent.Completed || e instanceof AttributionEvent.Failed);
            String killedWorker = ((AttributionEvent.Accepted) beforeKill.get(0)).worker();
            Set<Long> seqsBeforeKill = beforeKill.stream().map(AttributionEvent::seq).collect(Collectors.toSet());

            // the dead member's session (3 s) expires; only then does a new worker join, so it gets every partition
            await("the killed worker left the group").atMost(Duration.ofSeconds(30))
                    .until(() -> describe(group).members().isEmpty());
            rescuer = startWorker(group, "rescuer");
            await("the job completed after the rerun").atMost(Duration.ofSeconds(90))
                    .until(() -> results.events(id).stream().anyMatch(e -> e instanceof AttributionEvent.Completed));
            await("the rerun's offset committed").atMost(Duration.ofSeconds(10))
                    .until(() -> committed(group).equals(endOffsets()));

            List<AttributionEvent> all = results.events(id);
            all.stream().filter(e -> e instanceof AttributionEvent.Completed).forEach(e -> System.err.println(
                    "rerun of " + id + " on the rescuer: timings " + ((AttributionEvent.Completed) e).timings()));
            assertThat(all).noneMatch(e -> e instanceof AttributionEvent.Failed);
            assertThat(all).filteredOn(e -> e instanceof AttributionEvent.Completed).hasSize(1);
            assertThat(all).filteredOn(e -> e instanceof AttributionEvent.Accepted)
                    .extracting(e -> ((AttributionEvent.Accepted) e).worker())
                    .containsExactly(killedWorker, "rescuer");
            assertThat(killedWorker).isNotEqualTo("rescuer");

            // the rerun republished from seq 0: every seq the killed worker published appears twice
            Map<Long, List<AttributionEvent>> bySeq = new TreeMap<>();
            all.forEach(e -> bySeq.computeIfAbsent(e.seq(), k -> new ArrayList<>()).add(e));
            Set<Long> duplicated = bySeq.entrySet().stream().filter(e -> e.getValue().size() > 1).map(Map.Entry::getKey)
                    .collect(Collectors.toSet());
            assertThat(duplicated).as("seqs published twice").containsAll(seqsBeforeKill).contains(0L, 1L)
                    .isEqualTo(LongStream.rangeClosed(0, duplicated.stream().mapToLong(Long::longValue).max().orElse(-1))
                            .boxed().collect(Collectors.toSet()));
            assertThat(bySeq.values()).allSatisfy(copies -> assertThat(copies).hasSizeLessThanOrEqualTo(2));

            // deduplicated on (job_id, seq): accepted, tokens in order, completed
            int n = bySeq.size() - 1;
            assertThat(bySeq.keySet()).containsExactlyElementsOf(
                    IntStream.rangeClosed(0, n).mapToObj(Long::valueOf).toList());
            AttributionEvent.Accepted accepted = (AttributionEvent.Accepted) bySeq.get(0L).get(0);
            assertThat(accepted.targetTokens()).hasSize(n - 1);
            for (long s = 1; s < n; s++) {
                assertThat(bySeq.get(s).get(0)).as("seq " + s).isInstanceOf(AttributionEvent.Token.class);
                assertThat(((AttributionEvent.Token) bySeq.get(s).get(0)).index()).isEqualTo((int) s - 1);
            }
            assertThat(bySeq.get((long) n)).singleElement().isInstanceOf(AttributionEvent.Completed.class);

            // the computation is deterministic: both runs published the same numbers
            for (List<AttributionEvent> copies : bySeq.values()) {
                if (copies.size() < 2) {
                    continue;
                }
                AttributionEvent first = copies.get(0);
                AttributionEvent second = copies.get(1);
                assertThat(second.getClass()).as("type of the copies of seq " + first.seq()).isEqualTo(first.getClass());
                if (first instanceof AttributionEvent.Token t1) {
                    AttributionEvent.Token t2 = (AttributionEvent.Token) second;
                    assertThat(t2.index()).isEqualTo(t1.index());
                    assertThat(t2.tokenId()).isEqualTo(t1.tokenId());
                    assertThat(t2.attr()).as("attr of token " + t1.index() + " in both runs").isEqualTo(t1.attr());
                    assertThat(t2.layers()).isEqualTo(t1.layers());
                } else if (first instanceof AttributionEvent.Accepted a1) {
                    AttributionEvent.Accepted a2 = (AttributionEvent.Accepted) second;
                    assertThat(a2.features()).isEqualTo(a1.features());
                    assertThat(a2.targetTokens()).isEqualTo(a1.targetTokens());
                }
            }
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
            }
            stopWorker(rescuer);
        }
    }

    @Test
    void cancelledAndOverdueJobsFailWithTheirCodesAndTheWorkerGoesOn() throws Exception {
        String group = "cancel";
        startGroupAtEnd(group);
        AttributionWorker w = startWorker(group, "canceller");
        try {
            String id = "cancelled-mid-job";
            client.submitRaw(id, longJob(id)).join();
            await("first token event of " + id).atMost(Duration.ofSeconds(60))
                    .until(() -> results.events(id).stream().anyMatch(e -> e instanceof AttributionEvent.Token));
            client.cancel(id).join();
            await("the cancelled job's final event").atMost(Duration.ofSeconds(30)).until(() -> finished(id));
            List<AttributionEvent> events = results.events(id);
            AttributionEvent last = events.get(events.size() - 1);
            assertThat(last).isInstanceOf(AttributionEvent.Failed.class);
            assertThat(((AttributionEvent.Failed) last).code()).isEqualTo("cancelled");
            assertThat(events).noneMatch(e -> e instanceof AttributionEvent.Completed);
            int targetTokens = ((AttributionEvent.Accepted) events.get(0)).targetTokens().size();
            assertThat(events).as("stopped before its last token").filteredOn(e -> e instanceof AttributionEvent.Token)
                    .hasSizeBetween(1, targetTokens - 1);
            assertThat(events).extracting(AttributionEvent::seq)
                    .containsExactlyElementsOf(IntStream.range(0, events.size()).mapToObj(Long::valueOf).toList());

            ObjectNode overdue = (ObjectNode) Protocol.JSON.readTree(shortJob("overdue"));
            overdue.put("deadline", Instant.now().minusSeconds(60).toString());
            List<AttributionEvent> late = follow("overdue", Protocol.JSON.writeValueAsBytes(overdue));
            assertThat(late).singleElement().isInstanceOfSatisfying(AttributionEvent.Failed.class, f -> {
                assertThat(f.code()).isEqualTo("deadline_exceeded");
                assertThat(f.field()).isEqualTo("deadline");
                assertThat(f.seq()).isZero();
                assertThat(f.message()).isNotBlank();
            });

            List<AttributionEvent> after = follow("after-cancel", shortJob("after-cancel"));
            assertThat(after.get(0)).isInstanceOfSatisfying(AttributionEvent.Accepted.class,
                    acc -> assertThat(acc.worker()).isEqualTo("canceller"));
            assertThat(after.get(after.size() - 1)).isInstanceOf(AttributionEvent.Completed.class);
        } finally {
            stopWorker(w);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** Feature ablation on a one-token target: well under a second on the tiny model. */
    static byte[] shortJob(String jobId) throws IOException {
        ObjectNode node = example("seed-token-feature-ablation", jobId);
        node.put("target", " golf");
        return Protocol.JSON.writeValueAsBytes(node);
    }

    /** Layer integrated gradients over 9 layers, 100 steps, batches of 8: about 2 s per
     * target token, 3 tokens (6 s on an idle 2-core machine). */
    static byte[] longJob(String jobId) throws IOException {
        ObjectNode node = example("seed-lig-multilayer", jobId);
        node.put("target", " playing golf,");
        ObjectNode method = (ObjectNode) node.get("method");
        method.put("n_steps", 100);
        method.put("internal_batch_size", 8);
        return Protocol.JSON.writeValueAsBytes(node);
    }

    static ObjectNode example(String name, String jobId) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            ObjectNode node = (ObjectNode) Protocol.JSON.readTree(in);
            node.put("job_id", jobId);
            return node;
        }
    }

    static List<AttributionEvent> follow(String jobId, byte[] body) {
        List<AttributionEvent> events = new ArrayList<>();
        AttributionEvent last = client.submitAndFollow(jobId, body, Duration.ofMinutes(1), events::add);
        assertThat(last).as("final event of " + jobId).isNotNull();
        return events;
    }

    boolean finished(String jobId) {
        return results.events(jobId).stream()
                .anyMatch(e -> e instanceof AttributionEvent.Completed || e instanceof AttributionEvent.Failed);
    }

    /** {@code prefix + i} for increasing i until every partition has {@code perPartition} ids (the default partitioner). */
    static List<String> jobIdsCoveringPartitions(String prefix, int perPartition) {
        int[] count = new int[PARTITIONS];
        List<String> ids = new ArrayList<>();
        for (int i = 0; ids.size() < PARTITIONS * perPartition; i++) {
            String id = prefix + i;
            int p = Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
            if (count[p] < perPartition) {
                count[p]++;
                ids.add(id);
            }
        }
        return ids;
    }

    static AttributionWorker startWorker(String group, String instanceId) {
        AttributionWorker w = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", group, instanceId, 0, null, Limits.cpu(),
                Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500), QueueMode.GROUP, 3));
        workers.add(w);
        return w;
    }

    static void stopWorker(AttributionWorker w) {
        if (w != null && workers.remove(w)) {
            w.close();
        }
    }

    /** `attrib worker` in its own JVM, returned once it printed that it is ready. */
    static Process startWorkerProcess(String group, Path stderr) throws Exception {
        return ServiceProcesses.worker(kafka.bootstrapServers(), group, stderr, "--queue", "group");
    }

    static String tail(String s, int chars) {
        return ServiceProcesses.tail(s, chars);
    }

    static String read(Path file) throws IOException {
        return ServiceProcesses.read(file);
    }

    /** Commits the current end of the requests topic for a new group, so it only sees requests sent from now on. */
    static void startGroupAtEnd(String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        endOffsets().forEach((tp, offset) -> offsets.put(tp, new OffsetAndMetadata(offset)));
        admin.alterConsumerGroupOffsets(group, offsets).all().get();
    }

    static Map<TopicPartition, Long> endOffsets() throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            latest.put(new TopicPartition(Protocol.REQUESTS_TOPIC, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> out = new HashMap<>();
        admin.listOffsets(latest).all().get().forEach((tp, info) -> out.put(tp, info.offset()));
        return out;
    }

    static Map<TopicPartition, Long> committed(String group) throws Exception {
        Map<TopicPartition, Long> out = new HashMap<>();
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                .forEach((tp, om) -> out.put(tp, om == null ? -1 : om.offset()));
        return out;
    }

    static ConsumerGroupDescription describe(String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    }

    /** Requests partition to the owning member's instance id (or consumer id when it has none). */
    static Map<TopicPartition, String> owners(String group) throws Exception {
        return owners(describe(group));
    }

    static Map<TopicPartition, String> owners(ConsumerGroupDescription d) {
        Map<TopicPartition, String> out = new HashMap<>();
        for (MemberDescription m : d.members()) {
            for (TopicPartition tp : m.assignment().topicPartitions()) {
                if (tp.topic().equals(Protocol.REQUESTS_TOPIC)) {
                    out.put(tp, m.groupInstanceId().orElse(m.consumerId()));
                }
            }
        }
        return out;
    }

    static void quietly(ThrowingRunnable r) {
        try {
            r.run();
        } catch (Exception e) {
            System.err.println("while stopping: " + e);
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
