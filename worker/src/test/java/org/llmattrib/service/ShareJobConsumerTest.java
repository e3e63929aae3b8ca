package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.Protocol;

/**
 * The share consumer alone (no model): how a handler's settlement reaches the broker, and what
 * ready and alive report. One broker, one request partition, a share group per test.
 */
class ShareJobConsumerTest {
    static EmbeddedKafka kafka;
    static AttributionClient client;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(1);
        client = new AttributionClient(kafka.bootstrapServers());
    }

    @AfterAll
    static void stop() {
        client.close();
        kafka.close();
    }

    record Delivery(String key, int count) {}

    static final class Observer implements JobConsumer.Observer {
        volatile boolean ready;

        @Override
        public void queueWait(long millis) {
        }

        @Override
        public void pausedPartitions(int count) {
        }

        @Override
        public void ready() {
            ready = true;
        }
    }

    @Test
    void aReleasedRecordComesBackWithItsDeliveryCountAndSettledOnesNever() throws Exception {
        List<Delivery> deliveries = new CopyOnWriteArrayList<>();
        Observer observer = new Observer();
        // "retry" is released once, then completed; "reject" fails for good; "accept" completes
        ShareJobConsumer consumer = new ShareJobConsumer(kafka.bootstrapServers(), "settle", Protocol.REQUESTS_TOPIC,
                (record, abandoned) -> {
                    int count = record.deliveryCount().orElseThrow();
                    deliveries.add(new Delivery(record.key(), count));
                    return switch (record.key()) {
                        case "retry" -> count == 1 ? Settlement.RETRY : Settlement.COMPLETED;
                        case "reject" -> Settlement.FAILED;
                        default -> Settlement.COMPLETED;
                    };
                }, observer);
        assertThat(consumer.ready()).isFalse();
        try {
            consumer.start();
            await("ready").atMost(Duration.ofSeconds(30)).until(consumer::ready);
            assertThat(observer.ready).isTrue();
            for (String key : List.of("retry", "reject", "accept")) {
                client.submitRaw(key, "{}".getBytes(StandardCharsets.UTF_8)).join();
            }
            await("every record settled").atMost(Duration.ofSeconds(30)).until(() -> deliveries.size() >= 4);
            Thread.sleep(2000);
            assertThat(deliveries).containsExactlyInAnyOrder(new Delivery("retry", 1), new Delivery("retry", 2),
                    new Delivery("reject", 1), new Delivery("accept", 1));
            assertThat(consumer.alive()).isTrue();
        } finally {
            consumer.close();
        }
        assertThat(consumer.alive()).as("alive after close").isFalse();
        assertThat(consumer.ready()).as("ready after close").isFalse();
    }

    @Test
    void aConsumerWhosePollLoopDiedIsNotAlive() {
        // an illegal topic name makes subscribe() throw on the poll thread: the loop ends at once
        ShareJobConsumer consumer = new ShareJobConsumer(kafka.bootstrapServers(), "dead", "no such topic!",
                (record, abandoned) -> Settlement.COMPLETED, new Observer());
        try {
            consumer.start();
            await("not alive").atMost(Duration.ofSeconds(30)).until(() -> !consumer.alive());
            assertThat(consumer.ready()).isFalse();
        } finally {
            consumer.close();
        }
    }
}
