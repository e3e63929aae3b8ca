package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.protocol.TopicFollower;

/**
 * The group-less reader behind the worker's job registry and cancel listener and the gateway's job
 * view, on a real broker: where it starts, when it is caught up, a topic created after it started,
 * a callback that throws, a follower that dies, and one that no broker answers.
 */
class TopicFollowerTest {
    static EmbeddedKafka kafka;
    static KafkaProducer<String, byte[]> producer;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, java.util.Map.of());
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
    }

    @AfterAll
    static void stop() {
        producer.close();
        kafka.close();
    }

    static void send(String topic, String value) throws Exception {
        producer.send(new ProducerRecord<>(topic, value, value.getBytes(StandardCharsets.UTF_8))).get();
    }

    static String value(ConsumerRecord<String, byte[]> r) {
        return new String(r.value(), StandardCharsets.UTF_8);
    }

    @Test
    void fromTheBeginningItHandsOverWhatIsThereBeforeItIsCaughtUpAndThenWhatComes() throws Exception {
        kafka.createTopics(3, "follow-all");
        for (int i = 0; i < 30; i++) {
            send("follow-all", "old-" + i);
        }
        List<String> seen = new CopyOnWriteArrayList<>();
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-all",
                records -> records.forEach(r -> seen.add(value(r))))) {
            follower.startAndWait(Instant.EPOCH, Duration.ofSeconds(30));
            assertThat(seen).as("handed over before caught up").hasSize(30);
            send("follow-all", "new");
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.contains("new"));
            assertThat(follower.alive()).isTrue();
        }
    }

    @Test
    void fromAPointInTimeItSkipsWhatWasWrittenBefore() throws Exception {
        kafka.createTopics(1, "follow-since");
        send("follow-since", "before");
        Thread.sleep(50);
        Instant from = Instant.now();
        send("follow-since", "after");
        List<String> seen = new CopyOnWriteArrayList<>();
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-since",
                records -> records.forEach(r -> seen.add(value(r))))) {
            follower.startAndWait(from, Duration.ofSeconds(30));
            assertThat(seen).containsExactly("after");
        }
    }

    @Test
    void itWaitsForATopicCreatedAfterItStarted() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-later",
                records -> records.forEach(r -> seen.add(value(r))))) {
            CompletableFuture<Void> caughtUp = follower.start(Instant.EPOCH);
            Thread.sleep(1500);
            assertThat(caughtUp).as("not caught up with a topic that does not exist").isNotDone();
            assertThat(follower.answered()).as("the broker answered that it does not exist").isDone();
            assertThat(follower.alive()).as("waiting is not dying").isTrue();
            kafka.createTopics(1, "follow-later");
            send("follow-later", "first");
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.contains("first"));
            assertThat(caughtUp).succeedsWithin(Duration.ofSeconds(10));
        }
    }

    @Test
    void withoutABrokerItHasNoAnswerUntilClosed() throws Exception {
        Properties nobody = new Properties();
        nobody.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
        TopicFollower follower = new TopicFollower(nobody, "follow-nobody", records -> {});
        CompletableFuture<Void> caughtUp = follower.start(Instant.EPOCH);
        Thread.sleep(1500);
        assertThat(follower.answered()).isNotDone();
        assertThat(caughtUp).isNotDone();
        assertThat(follower.alive()).as("waiting is not dying").isTrue();
        follower.close();
        assertThat(follower.answered()).isCompletedExceptionally();
    }

    @Test
    void startAndWaitNamesATopicThatDoesNotExist() {
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-missing", records -> {})) {
            assertThatThrownBy(() -> follower.startAndWait(Instant.EPOCH, Duration.ofSeconds(2)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("follow-missing");
        }
    }

    @Test
    void aCallbackThatThrowsLosesThatPollOnlyAndTheFollowerGoesOn() throws Exception {
        kafka.createTopics(1, "follow-bad");
        send("follow-bad", "bad");
        List<String> seen = new CopyOnWriteArrayList<>();
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-bad", records -> {
            records.forEach(r -> {
                if (value(r).equals("bad")) {
                    throw new IllegalArgumentException("a bad record");
                }
                seen.add(value(r));
            });
        })) {
            follower.startAndWait(Instant.EPOCH, Duration.ofSeconds(30));
            send("follow-bad", "good");
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.contains("good"));
            assertThat(follower.alive()).isTrue();
        }
    }

    @Test
    void aFollowerThatDiesSaysSoAndItsFutureFails() throws Exception {
        kafka.createTopics(1, "follow-dies");
        send("follow-dies", "fatal");
        try (TopicFollower follower = new TopicFollower(kafka.clientProperties(), "follow-dies", records -> {
            throw new OutOfMemoryError("simulated");
        })) {
            CompletableFuture<Void> caughtUp = follower.start(Instant.EPOCH);
            await().atMost(Duration.ofSeconds(30)).until(() -> !follower.alive());
            assertThat(caughtUp).failsWithin(Duration.ofSeconds(10)).withThrowableOfType(ExecutionException.class)
                    .withCauseInstanceOf(OutOfMemoryError.class);
        }
    }
}
