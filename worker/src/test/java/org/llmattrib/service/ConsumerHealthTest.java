package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * The request consumer under group trouble, on a real broker: a commit refused during a rebalance
 * does not stop it; a consumer that dies makes the worker not live and not ready; a stop lets the
 * running job finish within the drain timeout, else leaves it uncommitted for the next worker.
 */
class ConsumerHealthTest {
    static final int PARTITIONS = 2;

    static EmbeddedKafka kafka;
    static Admin admin;
    static KafkaProducer<String, byte[]> producer;
    static TopicRecords results;
    final List<AutoCloseable> toClose = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(PARTITIONS);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
        results = new TopicRecords(kafka.bootstrapServers(), Protocol.RESULTS_TOPIC);
    }

    @AfterEach
    void closeWhatTheTestStarted() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
    }

    @AfterAll
    static void stop() throws Exception {
        results.close();
        producer.close();
        admin.close();
        kafka.close();
    }

    /** Commits the current end of the requests topic for a new group, so it never sees other tests' requests. */
    static void startGroupAtEnd(String group) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            latest.put(new TopicPartition(Protocol.REQUESTS_TOPIC, p), OffsetSpec.latest());
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        admin.listOffsets(latest).all().get().forEach((tp, info) -> offsets.put(tp, new OffsetAndMetadata(info.offset())));
        admin.alterConsumerGroupOffsets(group, offsets).all().get();
    }

    AttributionWorker worker(String group, String instanceId, Duration drainTimeout) {
        AttributionWorker w = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                new Properties(), TestModels.tinyLlama3Dir(), "cpu", Precision.FLOAT32, group, instanceId, "127.0.0.1",
                0, null, Limits.cpu(), Duration.ofSeconds(15), drainTimeout,
                AttributionWorker.Settings.DEFAULT_STALL_TIMEOUT, Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500),
                QueueMode.GROUP, 3, 1));
        toClose.add(w);
        return w;
    }

    /** A plain member of the worker group, polled only when the test says so. */
    KafkaConsumer<String, byte[]> member(String group) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers(), ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000, ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500,
                ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 120_000,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()));
        c.subscribe(List.of(Protocol.REQUESTS_TOPIC));
        return c;
    }

    static void send(int partition, String jobId, byte[] body) throws Exception {
        producer.send(new ProducerRecord<>(Protocol.REQUESTS_TOPIC, partition, jobId, body)).get();
    }

    static int http(AttributionWorker w, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + w.metricsPort() + path))
                .build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    static GroupState state(String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState();
    }

    static Map<TopicPartition, Long> uncommitted(String group) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            latest.put(new TopicPartition(Protocol.REQUESTS_TOPIC, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> lag = new HashMap<>();
        admin.listOffsets(latest).all().get().forEach((tp, info) -> lag.put(tp, info.offset()));
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                .forEach((tp, om) -> lag.merge(tp, om == null ? 0 : om.offset(), (end, done) -> end - done));
        lag.values().removeIf(n -> n == 0);
        return lag;
    }

    List<AttributionEvent> events(String jobId) {
        return results.events(jobId);
    }

    long count(String jobId, Class<? extends AttributionEvent> type) {
        return events(jobId).stream().filter(type::isInstance).count();
    }

    @Test
    void aCommitRefusedDuringARebalanceIsRetriedAndTheConsumerGoesOn() throws Exception {
        String group = "rebalancing";
        startGroupAtEnd(group);
        AttributionWorker w = worker(group, "steady", Duration.ofSeconds(30));
        KafkaConsumer<String, byte[]> quiet = member(group);
        await("the quiet member holds a partition").atMost(Duration.ofSeconds(30)).until(() -> {
            quiet.poll(Duration.ofMillis(100));
            return quiet.assignment().size() == 1 && state(group) == GroupState.STABLE;
        });
        int workerPartition = 1 - quiet.assignment().iterator().next().partition();

        // a third member joins; the group waits for the quiet one (not polling) to rejoin, so the
        // worker stays mid-rebalance while its job finishes: its commit is refused
        AtomicBoolean polling = new AtomicBoolean(true);
        Thread joiner = new Thread(() -> {
            try (KafkaConsumer<String, byte[]> c = member(group)) {
                while (polling.get()) {
                    c.poll(Duration.ofMillis(100));
                }
            }
        });
        joiner.start();
        toClose.add(() -> {
            polling.set(false);
            joiner.join();
            quiet.close();
        });
        await("rebalance pending").atMost(Duration.ofSeconds(10)).until(() -> state(group) == GroupState.PREPARING_REBALANCE);
        // the broker still takes commits of the current generation while a rebalance is pending; the
        // worker's client refuses them once a heartbeat (every 500 ms) has told it to rejoin. The
        // rebalance stays pending until the quiet member polls (up to its 120 s poll interval).
        Thread.sleep(2_000);
        assertThat(state(group)).isEqualTo(GroupState.PREPARING_REBALANCE);
        send(workerPartition, "during-rebalance", ScaleOutAndFailureTest.shortJob("during-rebalance"));
        await("the job finished").atMost(Duration.ofSeconds(30)).until(() -> results.finished("during-rebalance"));
        await("its commit refused").atMost(Duration.ofSeconds(10)).until(() -> w.metrics().commitFailures() > 0);
        assertThat(state(group)).isEqualTo(GroupState.PREPARING_REBALANCE);
        assertThat(w.live()).isTrue();
        assertThat(http(w, "/health/live")).isEqualTo(200);

        // the rebalance completes, the retried commit goes through, later jobs run
        quiet.poll(Duration.ofMillis(500));
        quiet.close();
        polling.set(false);
        joiner.join();
        await("the finished job committed").atMost(Duration.ofSeconds(30)).until(() -> uncommitted(group).isEmpty());
        for (int p = 0; p < PARTITIONS; p++) {
            send(p, "after-rebalance-" + p, ScaleOutAndFailureTest.shortJob("after-rebalance-" + p));
        }
        await("later jobs finished").atMost(Duration.ofSeconds(60))
                .until(() -> results.finished("after-rebalance-0") && results.finished("after-rebalance-1"));
        for (String id : List.of("during-rebalance", "after-rebalance-0", "after-rebalance-1")) {
            assertThat(count(id, AttributionEvent.Accepted.class)).as(id + " accepted").isEqualTo(1);
            assertThat(count(id, AttributionEvent.Completed.class)).as(id + " completed").isEqualTo(1);
        }
        assertThat(http(w, "/health/live")).isEqualTo(200);
        assertThat(http(w, "/health/ready")).isEqualTo(200);
    }

    @Test
    void aWorkerWhoseConsumerDiedIsNeitherLiveNorReady() throws Exception {
        String group = "fenced";
        startGroupAtEnd(group);
        AttributionWorker first = worker(group, "twin", Duration.ofSeconds(30));
        assertThat(http(first, "/health/live")).isEqualTo(200);
        assertThat(http(first, "/health/ready")).isEqualTo(200);
        // a second worker with the same static member id fences the first one's consumer for good
        AttributionWorker second = worker(group, "twin", Duration.ofSeconds(30));
        await("the fenced worker reports it").atMost(Duration.ofSeconds(15)).until(() ->
                http(first, "/health/live") == 503 && http(first, "/health/ready") == 503);
        assertThat(http(second, "/health/live")).isEqualTo(200);
        assertThat(http(second, "/health/ready")).isEqualTo(200);
    }

    /** Integrated gradients on the embeddings, 8 target tokens: a job with a checkpoint per token, seconds long. */
    static byte[] mediumJob(String jobId) throws Exception {
        return Protocol.JSON.writeValueAsBytes(ScaleOutAndFailureTest.example("seed-lig-embeddings", jobId));
    }

    boolean started(String jobId) {
        return events(jobId).stream().anyMatch(e -> e instanceof AttributionEvent.Accepted);
    }

    @Test
    void theHealthPortAnswersOnTheBindAddressOnly() throws Exception {
        AttributionWorker w = worker("bind", "loopback-only", Duration.ofSeconds(30));
        assertThat(http(w, "/health/live")).isEqualTo(200);
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress other : Collections.list(nic.getInetAddresses())) {
                if (other.isLoopbackAddress() || other.isLinkLocalAddress()) {
                    continue;
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(other, w.metricsPort()), 1000);
                    throw new AssertionError("the health port answers on " + other);
                } catch (IOException expected) {
                    // refused: bound to 127.0.0.1 only
                }
            }
        }
    }

    @Test
    void aStopLetsTheRunningJobFinishWithinTheDrainTimeoutPublishedOnceAndCommitted() throws Exception {
        String group = "drain";
        startGroupAtEnd(group);
        AttributionWorker w = worker(group, "drainer", Duration.ofSeconds(120));
        send(0, "drained", mediumJob("drained"));
        await("the job started").atMost(Duration.ofSeconds(60)).until(() -> started("drained"));
        w.close();
        await("the drained job's events read").atMost(Duration.ofSeconds(5)).until(() -> results.finished("drained"));
        assertThat(count("drained", AttributionEvent.Completed.class)).isEqualTo(1);
        assertThat(count("drained", AttributionEvent.Accepted.class)).isEqualTo(1);
        assertThat(uncommitted(group)).isEmpty();
    }

    @Test
    void aJobLongerThanTheDrainTimeoutIsLeftUncommittedForTheNextWorker() throws Exception {
        String group = "drain-short";
        startGroupAtEnd(group);
        AttributionWorker w = worker(group, "impatient", Duration.ZERO);
        send(1, "handed-over", mediumJob("handed-over"));
        await("the job started").atMost(Duration.ofSeconds(60)).until(() -> started("handed-over"));
        w.close();
        assertThat(events("handed-over")).noneMatch(e -> e instanceof AttributionEvent.Completed
                || e instanceof AttributionEvent.Failed);
        assertThat(uncommitted(group)).containsOnlyKeys(new TopicPartition(Protocol.REQUESTS_TOPIC, 1));

        worker(group, "next", Duration.ofSeconds(30));
        await("rerun by the next worker").atMost(Duration.ofSeconds(120)).until(() -> results.finished("handed-over"));
        assertThat(count("handed-over", AttributionEvent.Completed.class)).isEqualTo(1);
        assertThat(events("handed-over")).filteredOn(e -> e instanceof AttributionEvent.Accepted)
                .extracting(e -> ((AttributionEvent.Accepted) e).worker()).containsExactly("impatient", "next");
        await("the rerun committed").atMost(Duration.ofSeconds(10)).until(() -> uncommitted(group).isEmpty());
    }
}
