package org.llmattrib.service;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * One Kafka node in KRaft mode (broker and controller) listening on {@code host:port} only, its data
 * in a directory that survives a restart ({@code attrib broker}). Unlike {@link EmbeddedKafka}, a
 * test kit that binds ports of its own choosing, this is Kafka's own server with a fixed listener.
 */
public final class StandaloneKafka implements AutoCloseable {
    private static final int NODE_ID = 1;

    private final KafkaRaftServer server;
    private final String bootstrap;
    private final Path temporaryData;

    private StandaloneKafka(KafkaRaftServer server, String bootstrap, Path temporaryData) {
        this.server = server;
        this.bootstrap = bootstrap;
        this.temporaryData = temporaryData;
    }

    /**
     * Starts the node (formatting {@code dataDir} on first use) and creates the service topics.
     *
     * @param port the listener's port; 0: a free one, chosen here ({@link #bootstrapServers} says which)
     * @param dataDir where the logs go; null: a temporary directory deleted on close
     */
    public static StandaloneKafka start(String host, int port, Path dataDir, int requestPartitions, int resultPartitions) {
        try {
            Path data = dataDir != null ? Files.createDirectories(dataDir) : Files.createTempDirectory("attrib-kafka");
            // a broker advertises its listener's port as configured: port 0 must be made a real one first
            String listener = host + ":" + (port == 0 ? freePort(host) : port);
            int controllerPort = freePort(host);
            Properties p = new Properties();
            p.putAll(Map.ofEntries(
                    Map.entry("process.roles", "broker,controller"),
                    Map.entry("node.id", String.valueOf(NODE_ID)),
                    Map.entry("listeners", "PLAINTEXT://" + listener + ",CONTROLLER://" + host + ":" + controllerPort),
                    Map.entry("advertised.listeners", "PLAINTEXT://" + listener),
                    Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
                    Map.entry("controller.listener.names", "CONTROLLER"),
                    Map.entry("inter.broker.listener.name", "PLAINTEXT"),
                    Map.entry("controller.quorum.voters", NODE_ID + "@" + host + ":" + controllerPort),
                    Map.entry("log.dirs", data.toString()),
                    Map.entry("offsets.topic.replication.factor", "1"),
                    Map.entry("offsets.topic.num.partitions", "4"),
                    Map.entry("transaction.state.log.replication.factor", "1"),
                    Map.entry("transaction.state.log.min.isr", "1"),
                    Map.entry("share.coordinator.state.topic.replication.factor", "1"),
                    Map.entry("share.coordinator.state.topic.min.isr", "1"),
                    Map.entry("group.initial.rebalance.delay.ms", "0"),
                    Map.entry("group.min.session.timeout.ms", "1000"),
                    Map.entry("auto.create.topics.enable", "false")));
            KafkaConfig config = KafkaConfig.fromProps(p, false);
            if (!Files.exists(data.resolve("meta.properties"))) {
                new Formatter().setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                        .setNodeId(NODE_ID).setClusterId(Uuid.randomUuid().toString())
                        .addDirectory(data.toString()).setMetadataLogDirectory(data.toString())
                        .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION).setControllerListenerName("CONTROLLER")
                        .run();
            }
            KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
            server.startup();
            StandaloneKafka kafka = new StandaloneKafka(server, listener, dataDir == null ? data : null);
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, listener))) {
                ServiceTopics.create(admin, requestPartitions, resultPartitions);
            } catch (RuntimeException e) {
                kafka.close();
                throw e;
            }
            return kafka;
        } catch (Exception e) {
            throw new IllegalStateException("cannot start Kafka on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        }
    }

    public String bootstrapServers() {
        return bootstrap;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
        if (temporaryData != null) {
            try (Stream<Path> files = Files.walk(temporaryData)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
