package org.llmattrib.service;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.llmattrib.protocol.Protocol;

/** The topics of the service on a one-broker development cluster (replication factor 1). */
final class ServiceTopics {
    private ServiceTopics() {}

    /**
     * Creates them, {@code partitions} partitions for requests and results, and the compacted job
     * statuses and (consumer-group mode) attempt counts; existing ones are left alone.
     */
    static void create(Admin admin, int partitions) {
        create(admin, List.of(new NewTopic(Protocol.REQUESTS_TOPIC, partitions, (short) 1),
                new NewTopic(Protocol.RESULTS_TOPIC, partitions, (short) 1),
                new NewTopic(Protocol.CONTROL_TOPIC, 1, (short) 1),
                new NewTopic(Protocol.DEAD_LETTER_TOPIC, 1, (short) 1),
                new NewTopic(Protocol.JOBS_TOPIC, 1, (short) 1).configs(Map.of("cleanup.policy", "compact")),
                new NewTopic(AttemptLog.TOPIC, 1, (short) 1).configs(Map.of("cleanup.policy", "compact"))));
    }

    /** Creates {@code topics}; existing ones are left alone. */
    static void create(Admin admin, List<NewTopic> topics) {
        for (NewTopic topic : topics) {
            try {
                admin.createTopics(List.of(topic)).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + topic.name() + ": " + e.getCause().getMessage(), e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
