package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The same end-to-end path against the official Apache Kafka image, on machines with Docker.
 * Skipped where Docker is absent; the embedded-broker tests always run.
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerBrokerTest {
    @Container
    static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.1.0");

    @Test
    void aJobCompletesAgainstAContainerBroker() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KAFKA.getBootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(Protocol.REQUESTS_TOPIC, 2, (short) 1),
                    new NewTopic(Protocol.RESULTS_TOPIC, 2, (short) 1), new NewTopic(Protocol.CONTROL_TOPIC, 1, (short) 1),
                    new NewTopic(Protocol.DEAD_LETTER_TOPIC, 1, (short) 1),
                    new NewTopic(AttemptLog.TOPIC, 1, (short) 1).configs(Map.of("cleanup.policy", "compact")))).all().get();
        }
        try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(KAFKA.getBootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", "container-workers", null, 0, null, Limits.cpu(), Map.of(),
                QueueMode.GROUP, 3));
                AttributionClient client = new AttributionClient(KAFKA.getBootstrapServers())) {
            List<AttributionEvent> events = new ArrayList<>();
            AttributionEvent last = client.submitAndFollow("container-job",
                    ServiceEndToEndTest.example("seed-token-feature-ablation", "container-job"), Duration.ofMinutes(2),
                    events::add);
            assertThat(last).isInstanceOf(AttributionEvent.Completed.class);
            assertThat(events.get(0)).isInstanceOf(AttributionEvent.Accepted.class);
        }
    }
}
