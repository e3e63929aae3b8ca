package org.llmattrib.service;

import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real Apache Kafka broker in KRaft mode (one combined broker/controller node) inside this JVM,
 * for tests, the demo and development. Ready in about three seconds; its data is deleted on close.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final KafkaClusterTestKit cluster;

    private EmbeddedKafka(KafkaClusterTestKit cluster) {
        this.cluster = cluster;
    }

    /**
     * Broker settings for share-group heartbeats every 500 ms instead of 5 s: a member gets its
     * partitions with a heartbeat, so without them a fresh worker's {@code --concurrency} members
     * share the requests only seconds after it is ready.
     */
    public static final Map<String, String> FAST_SHARE_HEARTBEATS = Map.of("group.share.heartbeat.interval.ms", "500",
            "group.share.min.heartbeat.interval.ms", "500");

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

    /** Client properties that reach this broker (for a client started alone, as the worker's are). */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return p;
    }

    /** Creates the topics the service uses in the default layout of {@link ServiceTopics} (what {@code attrib broker} creates). */
    public void createServiceTopics() {
        try (Admin admin = cluster.admin()) {
            ServiceTopics.create(admin, ServiceTopics.REQUEST_PARTITIONS, ServiceTopics.RESULT_PARTITIONS);
        }
    }

    /** Creates the topics the service uses ({@link ServiceTopics}), {@code partitions} partitions for requests and results. */
    public void createServiceTopics(int partitions) {
        try (Admin admin = cluster.admin()) {
            ServiceTopics.create(admin, partitions, partitions);
        }
    }

    /** Creates topics of {@code partitions} partitions (tests of a consumer alone). */
    public void createTopics(int partitions, String... names) {
        try (Admin admin = cluster.admin()) {
            ServiceTopics.create(admin, Arrays.stream(names).map(name -> new NewTopic(name, partitions, (short) 1)).toList());
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
