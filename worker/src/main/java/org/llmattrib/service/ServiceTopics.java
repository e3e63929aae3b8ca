package org.llmattrib.service;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.llmattrib.protocol.Protocol;

/**
 * The topics of the service on a one-broker development cluster (replication factor 1).
 *
 * <p>The request topic has ONE partition by default: the broker's share-group assignor hands each
 * partition to a single member for as long as there are no more members than partitions, so with
 * several partitions a request waits behind a long job on its partition's member while another
 * worker idles, and a killed member's partitions go unserved until its share session times out
 * (45 s). With one partition every member of the share group serves it and takes records one at a
 * time. Consumer-group mode ({@code --queue group}) needs as many request partitions as workers.
 */
public final class ServiceTopics {
    /** Request partitions of the default layout (share groups). */
    public static final int REQUEST_PARTITIONS = 1;
    /** Result partitions of the default layout (the gateway and clients read them all). */
    public static final int RESULT_PARTITIONS = 6;

    private ServiceTopics() {}

    /**
     * Creates them, {@code requestPartitions} partitions for requests, {@code resultPartitions} for
     * results, and the compacted job statuses and (consumer-group mode) attempt counts; existing ones
     * are left alone.
     */
    static void create(Admin admin, int requestPartitions, int resultPartitions) {
        create(admin, List.of(new NewTopic(Protocol.REQUESTS_TOPIC, requestPartitions, (short) 1),
                new NewTopic(Protocol.RESULTS_TOPIC, resultPartitions, (short) 1),
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
