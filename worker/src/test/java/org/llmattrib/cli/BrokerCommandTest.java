package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.protocol.Protocol;

/** `attrib broker` in its own JVM, as README runs it: the given port on loopback only, data kept across a restart. */
class BrokerCommandTest {

    static Process broker(int port, Path data, Path stdout) throws Exception {
        Process p = start(port, data, stdout);
        await("broker ready").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(p.isAlive()).as("broker process alive").isTrue();
            return Files.readString(stdout).contains("broker ready on 127.0.0.1:" + port);
        });
        return p;
    }

    static Process start(int port, Path data, Path stdout) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "org.llmattrib.cli.Main", "broker", "--port", String.valueOf(port), "--data-dir", data.toString(),
                "--partitions", "2").redirectOutput(stdout.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    @Test
    void portZeroListensOnAFreePortAndSaysWhich(@TempDir Path dir) throws Exception {
        Path stdout = dir.resolve("broker.out");
        Process p = start(0, dir.resolve("data"), stdout);
        try {
            Pattern ready = Pattern.compile("broker ready on 127\\.0\\.0\\.1:(\\d+) ");
            String bootstrap = await("broker ready").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                    .until(() -> {
                        assertThat(p.isAlive()).as("broker process alive").isTrue();
                        Matcher m = ready.matcher(Files.readString(stdout));
                        return m.find() ? "127.0.0.1:" + m.group(1) : null;
                    }, b -> b != null);
            assertThat(bootstrap).doesNotEndWith(":0");
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listTopics().names().get())
                        .contains(Protocol.REQUESTS_TOPIC, Protocol.RESULTS_TOPIC));
            }
        } finally {
            stop(p);
        }
    }

    static void stop(Process p) throws InterruptedException {
        p.destroy(); // SIGTERM: the shutdown hook stops Kafka cleanly
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the broker stopped").isTrue();
    }

    @Test
    void listensOnTheGivenPortOfLoopbackOnlyWithTheTopicsAndKeepsItsDataAcrossARestart(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String bootstrap = "127.0.0.1:" + port;
        Path data = dir.resolve("data");
        Process first = broker(port, data, dir.resolve("first.out"));
        try {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                // topic metadata reaches every listener shortly after the broker reports ready
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listTopics().names().get())
                        .contains(Protocol.REQUESTS_TOPIC, Protocol.RESULTS_TOPIC, Protocol.CONTROL_TOPIC,
                                Protocol.DEAD_LETTER_TOPIC, Protocol.JOBS_TOPIC));
            }
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName()))) {
                producer.send(new ProducerRecord<>(Protocol.CONTROL_TOPIC, "survivor", "kept")).get();
            }
            for (InetAddress other : nonLoopbackAddresses()) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(other, port), 1000);
                    throw new AssertionError("the broker answers on " + other);
                } catch (IOException expected) {
                    // refused: it listens on loopback only
                }
            }
        } finally {
            stop(first);
        }

        Process second = broker(port, data, dir.resolve("second.out"));
        try {
            assertThat(read(bootstrap, Protocol.CONTROL_TOPIC)).extracting(ConsumerRecord::value).contains("kept");
        } finally {
            stop(second);
        }
    }

    static List<ConsumerRecord<String, String>> read(String bootstrap, String topic) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName()))) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long until = System.currentTimeMillis() + 20_000;
            while (out.isEmpty() && System.currentTimeMillis() < until) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    static List<InetAddress> nonLoopbackAddresses() throws IOException {
        List<InetAddress> out = new ArrayList<>();
        for (NetworkInterface nic : java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
                if (!a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
                    out.add(a);
                }
            }
        }
        return out;
    }
}
