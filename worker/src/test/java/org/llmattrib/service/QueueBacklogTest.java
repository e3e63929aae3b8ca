package org.llmattrib.service;

import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.Protocol;

/** The share-group backlog gauge that share-mode autoscaling reads. */
class QueueBacklogTest {
    @Test
    void theGaugeCountsTheRequestsTheShareGroupHasNotAcknowledged() throws Exception {
        Vertx vertx = Vertx.vertx();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of());
                AttributionClient client = new AttributionClient(kafka.bootstrapServers());
                Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            kafka.createServiceTopics(2);
            for (int i = 0; i < 5; i++) {
                client.submitRaw("backlog-" + i, "{}".getBytes(StandardCharsets.UTF_8)).join();
            }
            // the share group starts at the beginning of both partitions and has acknowledged nothing
            admin.alterShareGroupOffsets("backlog-workers", Map.of(new TopicPartition(Protocol.REQUESTS_TOPIC, 0), 0L,
                    new TopicPartition(Protocol.REQUESTS_TOPIC, 1), 0L)).all().get();
            try (QueueBacklog backlog = new QueueBacklog(vertx, kafka.clientProperties(), "backlog-workers",
                    Protocol.REQUESTS_TOPIC, registry, 200)) {
                await("backlog of 5").atMost(Duration.ofSeconds(30)).until(() -> backlog.value() == 5);
                await("the gauge").atMost(Duration.ofSeconds(5))
                        .until(() -> registry.get("attribution.queue.backlog").gauge().value() == 5.0);
            }
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get();
        }
    }
}
