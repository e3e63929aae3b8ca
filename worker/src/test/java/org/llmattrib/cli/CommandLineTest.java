package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.EmbeddedKafka;
import picocli.CommandLine;

/** The `attrib` command line as a new user meets it: help everywhere, no endless waits, Kafka settings applied. */
class CommandLineTest {
    static final String REQUEST = Path.of("../protocol/src/main/resources/examples/seed-token-feature-ablation.json").toString();

    record Result(int exitCode, String out, String err, Duration took) {}

    /** Runs the command line in this JVM; out and err: what picocli and the command print (System.out, System.err). */
    static Result run(String... args) {
        return run(new ByteArrayOutputStream(), args);
    }

    /** {@link #run(String...)}; {@code printedOut} gets System.out as it is printed (to watch a command on another thread). */
    static Result run(ByteArrayOutputStream printedOut, String... args) {
        PrintStream systemOut = System.out;
        PrintStream systemErr = System.err;
        ByteArrayOutputStream printedErr = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printedOut, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(printedErr, true, StandardCharsets.UTF_8));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        long start = System.nanoTime();
        int code;
        try {
            // picocli's writers are set after System's streams: set before, they were not used
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            code = cl.execute(args);
        } finally {
            System.setOut(systemOut);
            System.setErr(systemErr);
        }
        return new Result(code, printedOut.toString(StandardCharsets.UTF_8) + out,
                printedErr.toString(StandardCharsets.UTF_8) + err, Duration.ofNanos(System.nanoTime() - start));
    }

    @ParameterizedTest
    @ValueSource(strings = {"demo", "worker", "gateway", "broker", "submit", "explain", "generate", "bench", "selftest"})
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
    void aGatewayWithAnUnreachableBrokerIsNotReadyThenFailsWithinTheConnectTimeout() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        String[] args = {"gateway", "--bootstrap", "127.0.0.1:1", "--port", String.valueOf(port), "--connect-timeout",
                "PT3S"};
        CompletableFuture<Result> gateway = CompletableFuture.supplyAsync(() -> run(args));
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).build();
        // listening while it waits for Kafka, and not ready
        HttpResponse<String> answer = await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
                .ignoreExceptions().until(() -> http.send(ready, HttpResponse.BodyHandlers.ofString()), r -> true);
        assertThat(answer.statusCode()).isEqualTo(503);
        assertThat(answer.body()).contains("127.0.0.1:1");
        Result r = gateway.get(20, TimeUnit.SECONDS);
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(10));
        assertThat(r.err().strip()).isEqualTo("error: Kafka at 127.0.0.1:1 did not answer within 3 s"
                + " (--connect-timeout sets how long to wait)");
        // the gateway's own jar says the same
        StringWriter err = new StringWriter();
        CommandLine standalone = org.llmattrib.gateway.GatewayMain.commandLine();
        standalone.setErr(new PrintWriter(err, true));
        assertThat(standalone.execute(Arrays.copyOfRange(args, 1, args.length))).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo(r.err().strip());
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

    @Test
    void aMissingRequestFileIsNamedAsSuch() {
        for (List<String> args : List.of(List.of("explain", "--model", TestModels.tinyLlama3Dir().toString()),
                List.of("submit", "--bootstrap", "127.0.0.1:1"))) {
            Result r = run(concat(args, "--request", "nope.json"));
            assertThat(r.exitCode()).as(args.get(0)).isEqualTo(1);
            assertThat(r.err().strip()).as(args.get(0)).isEqualTo("error: request file nope.json: no such file");
        }
    }

    @Test
    void anInvalidRequestIsRefusedNamingTheFileAndTheFieldBeforeKafkaIsAsked(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, Files.readString(Path.of(REQUEST)).replace("\"feature_ablation\"", "\"no_such_method\""));
        Result r = run("submit", "--bootstrap", "127.0.0.1:1", "--request", bad.toString(), "--connect-timeout", "PT2S");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: request file " + bad + ": ").contains("method.name")
                .doesNotContain("did not answer");
    }

    @Test
    void aRequestWithoutAJobIdGetsOneGeneratedAndToldAndOneFeatureIsSingular(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("no-id.json");
        Files.writeString(file, """
                {"schema": "attribution-request/v1", "input": {"type": "tokens", "text": "Dave"},
                 "target": " golf", "method": {"name": "feature_ablation"}}""");
        String model = TestModels.tinyLlama3Dir().toString();
        Result json = run("explain", "--model", model, "--request", file.toString(), "--json");
        assertThat(json.exitCode()).as(json.err()).isZero();
        List<AttributionEvent> events = json.out().lines()
                .map(l -> Protocol.decodeEvent(l.getBytes(StandardCharsets.UTF_8))).toList();
        assertThat(events).last().isInstanceOf(AttributionEvent.Completed.class);
        String id = events.get(0).jobId();
        assertThat(id).matches("job-[0-9a-f-]{36}");
        assertThat(events).allMatch(e -> e.jobId().equals(id));
        assertThat(json.err()).contains("job id " + id + " (generated: " + file + " has no job_id)");

        Result human = run("explain", "--model", model, "--request", file.toString());
        assertThat(human.exitCode()).as(human.err()).isZero();
        assertThat(human.out()).containsPattern("job job-[0-9a-f-]{36} accepted by explain \\(feature_ablation\\): 1 feature\n");
    }

    @Test
    void aTakenPortIsNamedWithTheOptionThatSetsIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String port = String.valueOf(taken.getLocalPort());
            Result worker = run("worker", "--bootstrap", "127.0.0.1:1", "--model", TestModels.tinyLlama3Dir().toString(),
                    "--metrics-port", port, "--bind-address", "127.0.0.1", "--connect-timeout", "PT2S");
            assertThat(worker.exitCode()).isEqualTo(1);
            assertThat(worker.err().strip()).isEqualTo("error: cannot listen on 127.0.0.1:" + port + " for metrics and"
                    + " health: Address already in use; --metrics-port sets the port (0: any free port, printed once bound)");
            Result gateway = run("gateway", "--bootstrap", "127.0.0.1:1", "--port", port);
            assertThat(gateway.exitCode()).isEqualTo(1);
            assertThat(gateway.err().strip()).isEqualTo("error: cannot listen on 127.0.0.1:" + port + " for the"
                    + " dashboard and API: Address already in use; --port sets the port (0: any free port, printed once bound)");
        }
    }

    static String[] concat(List<String> args, String... more) {
        return java.util.stream.Stream.concat(args.stream(), java.util.Arrays.stream(more)).toArray(String[]::new);
    }
}
