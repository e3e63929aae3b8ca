package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A job thread that hangs (no checkpoint: a native call that never returns, say) must not hold its
 * request nor leave a worker that looks healthy: past the stall timeout the queue gives the record
 * back, another member runs it, and the hung consumer is no longer alive. Both queue kinds, on a
 * real broker; the hung handler ignores its signal entirely.
 */
class StalledJobQueueTest {
    static final Duration STALL = Duration.ofSeconds(2);
    /** How long the hung handler blocks: longer than the test needs to see the record run elsewhere. */
    static final long HANG_MS = 25_000;

    static EmbeddedKafka kafka;
    static KafkaProducer<String, String> producer;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createTopics(1, "stall-share", "stall-group");
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName()));
    }

    @AfterAll
    static void stop() {
        producer.close();
        kafka.close();
    }

    /** Who ran which record. */
    record Run(String consumer, String key) {}

    /** Blocks like a hung native call: never asks its signal, so it shows no sign of life. */
    static void hang(List<Run> runs, String consumer, ConsumerRecord<String, byte[]> record) {
        runs.add(new Run(consumer, record.key()));
        try {
            Thread.sleep(HANG_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aShareConsumerWhoseJobHangsReleasesTheRecordAtOnceAndIsNotAlive() throws Exception {
        List<Run> runs = new CopyOnWriteArrayList<>();
        ShareJobConsumer hung = new ShareJobConsumer(kafka.clientProperties(), "stall-share", "stall-share",
                (record, signal) -> {
                    hang(runs, "hung", record);
                    return Settlement.COMPLETED;
                }, new ShareJobConsumerTest.Observer(), Duration.ZERO, STALL);
        ShareJobConsumer healthy = new ShareJobConsumer(kafka.clientProperties(), "stall-share", "stall-share",
                (record, signal) -> {
                    runs.add(new Run("healthy", record.key()));
                    return Settlement.COMPLETED;
                }, new ShareJobConsumerTest.Observer(), Duration.ZERO, AttributionWorker.Settings.DEFAULT_STALL_TIMEOUT);
        // released when the stall is seen, not when the 30 s lock runs out or the handler returns
        assertTheHungJobRunsElsewhere("stall-share", hung, healthy, runs);
    }

    @Test
    void aGroupConsumerWhoseJobHangsLeavesTheGroupSoTheRecordRunsElsewhereAndIsNotAlive() throws Exception {
        List<Run> runs = new CopyOnWriteArrayList<>();
        Map<String, Object> overrides = Map.of("session.timeout.ms", 6000, "heartbeat.interval.ms", 500);
        JobConsumer hung = new JobConsumer(kafka.clientProperties(), "stall-group", null, "stall-group",
                (record, signal) -> {
                    hang(runs, "hung", record);
                    return true;
                }, new ShareJobConsumerTest.Observer(), overrides, Duration.ZERO, STALL);
        JobConsumer healthy = new JobConsumer(kafka.clientProperties(), "stall-group", null, "stall-group",
                (record, signal) -> {
                    runs.add(new Run("healthy", record.key()));
                    return true;
                }, new ShareJobConsumerTest.Observer(), overrides, Duration.ZERO,
                AttributionWorker.Settings.DEFAULT_STALL_TIMEOUT);
        // the hung consumer leaves the group when the stall is seen, not when its handler returns
        assertTheHungJobRunsElsewhere("stall-group", hung, healthy, runs);
    }

    /**
     * One record: the hung queue takes it, the healthy one joins; the hung one is soon neither alive
     * nor ready, and the healthy one runs the record before the hung handler returns.
     */
    static void assertTheHungJobRunsElsewhere(String topic, JobQueue hung, JobQueue healthy, List<Run> runs)
            throws Exception {
        try {
            hung.start();
            await("ready").atMost(Duration.ofSeconds(30)).until(hung::ready);
            producer.send(new ProducerRecord<>(topic, "job", "{}")).get();
            await("the hung job started").atMost(Duration.ofSeconds(30)).until(() -> runs.size() == 1);
            long started = System.currentTimeMillis();
            healthy.start();
            await("the hung consumer is not alive").atMost(Duration.ofSeconds(20)).until(() -> !hung.alive());
            assertThat(hung.ready()).isFalse();
            await("run elsewhere").atMost(Duration.ofSeconds(20)).until(() -> runs.size() == 2);
            assertThat(System.currentTimeMillis() - started).isLessThan(HANG_MS);
            assertThat(runs).containsExactly(new Run("hung", "job"), new Run("healthy", "job"));
            assertThat(healthy.alive()).isTrue();
        } finally {
            healthy.close();
            hung.close();
        }
    }
}
