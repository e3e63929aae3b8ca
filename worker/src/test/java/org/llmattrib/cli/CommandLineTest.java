package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.llmattrib.llama.TestModels;
import org.llmattrib.service.EmbeddedKafka;
import picocli.CommandLine;

/** The `attrib` command line as a new user meets it: help everywhere, no endless waits, Kafka settings applied. */
class CommandLineTest {
    static final String REQUEST = Path.of("../protocol/src/main/resources/examples/seed-token-feature-ablation.json").toString();

    record Result(int exitCode, String out, String err, Duration took) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        long start = System.nanoTime();
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString(), Duration.ofNanos(System.nanoTime() - start));
    }

    @ParameterizedTest
    @ValueSource(strings = {"demo", "worker", "broker", "submit", "explain", "generate", "bench", "selftest"})
    void everySubcommandHasHelpThatExitsZero(String subcommand) {
        Result r = run(subcommand, "--help");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Usage: attrib " + subcommand);
        assertThat(r.err()).doesNotContain("Missing required");
    }

    @Test
    void explainRunsInBfloat16AndRefusesAnUnknownDtype() {
        String model = TestModels.tinyLlama3Dir().toString();
        Result r = run("explain", "--model", model, "--dtype", "bfloat16", "--request", REQUEST, "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        Result bad = run("explain", "--model", model, "--dtype", "int8", "--request", REQUEST);
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--dtype").contains("int8").contains("bfloat16");
    }

    @Test
    void submitToAnUnreachableBrokerFailsWithinTheConnectTimeoutInOneLine() {
        Result r = run("submit", "--bootstrap", "127.0.0.1:1", "--request", REQUEST, "--connect-timeout", "PT2S");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(20));
        assertThat(r.err().strip()).isEqualTo("error: Kafka at 127.0.0.1:1 did not answer within 2 s");
    }

    @Test
    void aWorkerWithAnUnreachableBrokerFailsAtStartWithinTheConnectTimeout() {
        Result r = run("worker", "--bootstrap", "127.0.0.1:1", "--model", TestModels.tinyLlama3Dir().toString(),
                "--metrics-port", "0", "--bind-address", "127.0.0.1", "--connect-timeout", "PT2S");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(20));
        assertThat(r.err().strip()).isEqualTo("error: Kafka at 127.0.0.1:1 did not answer within 2 s");
    }

    @Test
    void theKafkaConfigFileReachesTheClientsOfSubmitAndWorker(@TempDir Path dir) throws Exception {
        // TLS against a plaintext listener: the clients only fail to connect if they use the file
        Path tls = dir.resolve("client.properties");
        Files.writeString(tls, "security.protocol=SSL\n");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(1);
            Result plain = run("submit", "--bootstrap", kafka.bootstrapServers(), "--request", REQUEST,
                    "--timeout", "PT1S", "--json");
            assertThat(plain.exitCode()).as("reached the broker, no worker to answer: " + plain.err()).isEqualTo(3);
            for (List<String> args : List.of(
                    List.of("submit", "--request", REQUEST, "--timeout", "PT1S"),
                    List.of("worker", "--model", TestModels.tinyLlama3Dir().toString(), "--metrics-port", "0"))) {
                Result r = run(concat(args, "--bootstrap", kafka.bootstrapServers(), "--kafka-config", tls.toString(),
                        "--connect-timeout", "PT2S"));
                assertThat(r.exitCode()).as(args.get(0)).isEqualTo(1);
                assertThat(r.err()).as(args.get(0)).contains("did not answer within 2 s");
            }
        }
    }

    static String[] concat(List<String> args, String... more) {
        return java.util.stream.Stream.concat(args.stream(), java.util.Arrays.stream(more)).toArray(String[]::new);
    }
}
