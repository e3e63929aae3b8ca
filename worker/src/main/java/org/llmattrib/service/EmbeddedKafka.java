package org.llmattrib.service;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.llmattrib.protocol.Protocol;

/**
 * A real Apache Kafka broker in KRaft mode (one combined broker/controller node) inside this JVM,
 * for tests, the demo and development. Ready in about three seconds; its data is deleted on close.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final KafkaClusterTestKit cluster;

    private EmbeddedKafka(KafkaClusterTestKit cluster) {
        this.cluster = cluster;
    }

    /** Starts a broker on 127.0.0.1:{@code port} (0: any free port). */
    public static EmbeddedKafka start(int port, Map<String, String> extraConfig) {
        try {
            TestKitNodes nodes = new TestKitNodes.Builder()
                    .setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes)
                    .setConfigProp("listeners", "EXTERNAL://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:0")
                    .setConfigProp("group.initial.rebalance.delay.ms", "0")
                    .setConfigProp("offsets.topic.replication.factor", "1")
                    .setConfigProp("offsets.topic.num.partitions", "4")
                    .setConfigProp("transaction.state.log.replication.factor", "1")
                    .setConfigProp("transaction.state.log.min.isr", "1")
                    .setConfigProp("group.min.session.timeout.ms", "1000")
                    .setConfigProp("auto.create.topics.enable", "false")
                    // share groups (the worker's default queue): the share-group state topic on one node,
                    // 5 deliveries per request (the worker gives up after --max-attempts, 3), locks of 30 s
                    // that a worker renews while its job runs; tests may shorten locks down to 1 s
                    .setConfigProp("share.coordinator.state.topic.replication.factor", "1")
                    .setConfigProp("share.coordinator.state.topic.min.isr", "1")
                    .setConfigProp("group.share.delivery.count.limit", "5")
                    .setConfigProp("group.share.record.lock.duration.ms", "30000")
                    .setConfigProp("group.share.min.record.lock.duration.ms", "1000");
            extraConfig.forEach(builder::setConfigProp);
            KafkaClusterTestKit cluster = builder.build();
            formatQuietly(cluster);
            cluster.startup();
            cluster.waitForReadyBrokers();
            return new EmbeddedKafka(cluster);
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the embedded Kafka broker: " + e.getMessage(), e);
        }
    }

    /** The test kit's storage formatter prints to System.out; keep that out of the CLI's output. */
    private static void formatQuietly(KafkaClusterTestKit cluster) throws Exception {
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            cluster.format();
        } finally {
            System.setOut(out);
        }
    }

    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    /**
     * Creates the topics the service uses, with {@code partitions} partitions for requests and
     * results, and the compacted attempt counts of consumer-group mode.
     */
    public void createServiceTopics(int partitions) {
        createTopics(partitions, Map.of(), Protocol.REQUESTS_TOPIC, Protocol.RESULTS_TOPIC);
        createTopics(1, Map.of(), Protocol.CONTROL_TOPIC, Protocol.DEAD_LETTER_TOPIC);
        createTopics(1, Map.of("cleanup.policy", "compact"), AttemptLog.TOPIC);
    }

    public void createTopics(int partitions, String... names) {
        createTopics(partitions, Map.of(), names);
    }

    private void createTopics(int partitions, Map<String, String> config, String... names) {
        try (Admin admin = cluster.admin()) {
            List<NewTopic> topics = new ArrayList<>();
            for (String name : names) {
                topics.add(new NewTopic(name, partitions, (short) 1).configs(config));
            }
            admin.createTopics(topics).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create topics: " + e.getCause().getMessage(), e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            cluster.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
