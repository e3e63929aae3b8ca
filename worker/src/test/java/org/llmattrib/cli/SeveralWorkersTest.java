package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.cli.CommandLineTest.Result;
import org.llmattrib.llama.TestModels;
import org.llmattrib.service.EmbeddedKafka;

/**
 * README's recipe for several workers on one host, each in its own JVM: {@code --metrics-port 0} gives
 * each a free port, printed at start; a worker started on a port another one holds says which port and
 * which option.
 */
class SeveralWorkersTest {
    @Test
    void workersOnOneHostWithMetricsPortZeroEachSayTheirPortAndASecondOnATakenPortNamesIt(@TempDir Path dir)
            throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(2);
            List<Process> workers = new ArrayList<>();
            try {
                List<Integer> ports = new ArrayList<>();
                for (String id : List.of("worker-1", "worker-2")) {
                    Path stderr = dir.resolve(id + ".err");
                    workers.add(worker(kafka.bootstrapServers(), id, stderr));
                    Pattern ready = Pattern.compile("worker " + id + " ready: .* metrics on 127\\.0\\.0\\.1:(\\d+)");
                    Process p = workers.get(workers.size() - 1);
                    ports.add(await(id + " ready").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                            .until(() -> {
                                assertThat(p.isAlive()).as(id + " alive: " + Files.readString(stderr)).isTrue();
                                Matcher m = ready.matcher(Files.readString(stderr));
                                return m.find() ? Integer.valueOf(m.group(1)) : null;
                            }, port -> port != null));
                }
                assertThat(ports).doesNotHaveDuplicates().doesNotContain(0);
                HttpClient http = HttpClient.newHttpClient();
                for (int port : ports) {
                    HttpResponse<String> health = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(health.statusCode()).isEqualTo(200);
                }

                Result third = CommandLineTest.run("worker", "--bootstrap", kafka.bootstrapServers(), "--model",
                        TestModels.tinyLlama3Dir().toString(), "--bind-address", "127.0.0.1", "--metrics-port",
                        String.valueOf(ports.get(0)));
                assertThat(third.exitCode()).isEqualTo(1);
                assertThat(third.err()).contains("error: cannot listen on 127.0.0.1:" + ports.get(0) + " for metrics"
                        + " and health: Address already in use; --metrics-port sets the port (0: any free port,"
                        + " printed once bound)");
            } finally {
                for (Process p : workers) {
                    p.destroy();
                    p.waitFor(60, TimeUnit.SECONDS);
                }
            }
        }
    }

    static Process worker(String bootstrap, String id, Path stderr) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx1g", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                "org.llmattrib.cli.Main", "worker", "--bootstrap", bootstrap, "--model",
                TestModels.tinyLlama3Dir().toAbsolutePath().toString(), "--metrics-port", "0", "--bind-address", "127.0.0.1",
                "--instance-id", id).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
    }
}
