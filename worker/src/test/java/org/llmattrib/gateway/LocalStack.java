package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;

/** What a browser or an HTTP client talks to: an embedded broker, a worker on the tiny model and a ready gateway. */
record LocalStack(EmbeddedKafka kafka, AttributionWorker worker, Gateway gateway) implements AutoCloseable {

    /** The default topic layout; the worker in share group {@code group}. */
    static LocalStack start(String group) throws InterruptedException {
        EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics();
        AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                TestModels.tinyLlama3Dir(), "cpu", group, null, 0, null, Limits.cpu(), Map.of(), QueueMode.SHARE, 3));
        Gateway gateway = Gateway.start(GatewayConfig.local(kafka.bootstrapServers()));
        assertThat(gateway.awaitReady(Duration.ofSeconds(30))).as("gateway ready").isTrue();
        return new LocalStack(kafka, worker, gateway);
    }

    String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    @Override
    public void close() {
        gateway.close();
        worker.close();
        kafka.close();
    }
}
