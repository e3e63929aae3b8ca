package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The share consumer alone (no model): how a handler's settlement reaches the broker, and what
 * ready and alive report. One broker; a topic of one partition and a share group per test.
 */
class ShareJobConsumerTest {
    static EmbeddedKafka kafka;
    static KafkaProducer<String, String> producer;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createTopics(1, "settle", "stop", "drain");
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName()));
    }

    @AfterAll
    static void stop() {
        producer.close();
        kafka.close();
    }

    static void send(String topic, String key) throws Exception {
        producer.send(new ProducerRecord<>(topic, key, "{}")).get();
    }

    record Delivery(String key, int count) {}

    static final class Observer implements JobConsumer.Observer {
        @Override
        public void queueWait(long millis) {
        }

        @Override
        public void pausedPartitions(int count) {
        }

        @Override
        public void commitFailed() {
        }
    }

    static ShareJobConsumer consumer(String topic, ShareJobConsumer.Handler handler, Duration drainTimeout) {
        return new ShareJobConsumer(kafka.clientProperties(), topic, topic, handler, new Observer(), drainTimeout,
                AttributionWorker.Settings.DEFAULT_STALL_TIMEOUT);
    }

    @Test
    void aReleasedRecordComesBackWithItsDeliveryCountAndSettledOnesNever() throws Exception {
        List<Delivery> deliveries = new CopyOnWriteArrayList<>();
        // "retry" is released once, then completed; "reject" fails for good; "accept" completes
        ShareJobConsumer consumer = consumer("settle", (record, abandoned) -> {
                    int count = record.deliveryCount().orElseThrow();
                    deliveries.add(new Delivery(record.key(), count));
                    return switch (record.key()) {
                        case "retry" -> count == 1 ? Settlement.RETRY : Settlement.COMPLETED;
                        case "reject" -> Settlement.FAILED;
                        default -> Settlement.COMPLETED;
                    };
                }, Duration.ZERO);
        assertThat(consumer.ready()).isFalse();
        try {
            consumer.start();
            await("ready").atMost(Duration.ofSeconds(30)).until(consumer::ready);
            for (String key : List.of("retry", "reject", "accept")) {
                send("settle", key);
            }
            await("every record settled").atMost(Duration.ofSeconds(30)).until(() -> deliveries.size() >= 4);
            Thread.sleep(2000);
            assertThat(deliveries).containsExactlyInAnyOrder(new Delivery("retry", 1), new Delivery("retry", 2),
                    new Delivery("reject", 1), new Delivery("accept", 1));
            assertThat(consumer.alive()).isTrue();
        } finally {
            consumer.close();
        }
        assertThat(consumer.alive()).as("alive after close (only a dead loop is not)").isTrue();
        assertThat(consumer.ready()).as("ready after close").isFalse();
    }

    @Test
    void aJobRunningWhenItsConsumerStopsIsReleasedAtOnceNotAfterItsLock() throws Exception {
        List<Delivery> deliveries = new CopyOnWriteArrayList<>();
        // the first consumer's handler runs until abandoned (a stop), like a long job
        ShareJobConsumer first = consumer("stop", (record, abandoned) -> {
                    deliveries.add(new Delivery(record.key(), record.deliveryCount().orElseThrow()));
                    await().atMost(Duration.ofMinutes(1)).until(abandoned::abandoned);
                    return Settlement.RETRY;
                }, Duration.ZERO);
        first.start();
        await("ready").atMost(Duration.ofSeconds(30)).until(first::ready);
        send("stop", "stopped");
        await("running").atMost(Duration.ofSeconds(30)).until(() -> deliveries.size() == 1);
        first.close();

        ShareJobConsumer second = consumer("stop", (record, abandoned) -> {
                    deliveries.add(new Delivery(record.key(), record.deliveryCount().orElseThrow()));
                    return Settlement.COMPLETED;
                }, Duration.ZERO);
        long stopped = System.currentTimeMillis();
        try {
            second.start();
            // the embedded broker's locks last 30 s: a redelivery well before proves the RELEASE
            await("redelivered").atMost(Duration.ofSeconds(20)).until(() -> deliveries.size() == 2);
            assertThat(System.currentTimeMillis() - stopped).isLessThan(20_000);
            assertThat(deliveries).containsExactly(new Delivery("stopped", 1), new Delivery("stopped", 2));
        } finally {
            second.close();
        }
    }

    @Test
    void aJobEndingWithinTheDrainTimeoutIsAcceptedOnceAndNeverRedelivered() throws Exception {
        List<Delivery> deliveries = new CopyOnWriteArrayList<>();
        AtomicBoolean abandonedAtEnd = new AtomicBoolean();
        // a job of 2 s, stopped after 0.5 s with 30 s to drain: it finishes and is ACCEPTed
        ShareJobConsumer first = consumer("drain", (record, abandoned) -> {
            deliveries.add(new Delivery(record.key(), record.deliveryCount().orElseThrow()));
            sleep(2000);
            abandonedAtEnd.set(abandoned.abandoned());
            return Settlement.COMPLETED;
        }, Duration.ofSeconds(30));
        first.start();
        await("ready").atMost(Duration.ofSeconds(30)).until(first::ready);
        send("drain", "drained");
        await("running").atMost(Duration.ofSeconds(30)).until(() -> deliveries.size() == 1);
        sleep(500);
        first.close();
        assertThat(abandonedAtEnd).as("abandoned").isFalse();

        ShareJobConsumer second = consumer("drain", (record, abandoned) -> {
            deliveries.add(new Delivery(record.key(), record.deliveryCount().orElseThrow()));
            return Settlement.COMPLETED;
        }, Duration.ZERO);
        try {
            second.start();
            await("ready").atMost(Duration.ofSeconds(30)).until(second::ready);
            sleep(3000);
            assertThat(deliveries).containsExactly(new Delivery("drained", 1));
        } finally {
            second.close();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aConsumerWhosePollLoopDiedIsNotAlive() {
        // an illegal topic name makes subscribe() throw on the poll thread: the loop ends at once
        ShareJobConsumer consumer = consumer("no such topic!", (record, abandoned) -> Settlement.COMPLETED, Duration.ZERO);
        try {
            consumer.start();
            await("not alive").atMost(Duration.ofSeconds(30)).until(() -> !consumer.alive());
            assertThat(consumer.ready()).isFalse();
        } finally {
            consumer.close();
        }
    }
}
