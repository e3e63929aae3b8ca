package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/**
 * docs/python/attrib_client.py, the Python client example, run with the machine's python3 against
 * a real broker, a real worker on the tiny checkpoint and the gateway: what it writes in Captum's
 * layout is exactly what the worker streamed. Skips, saying why, where python3 is missing.
 */
class PythonClientTest {
    static final Path CLIENT = Path.of("..", "docs", "python", "attrib_client.py");

    static Path python;
    static LocalStack stack;
    static Gateway gateway;

    @BeforeAll
    static void start() throws InterruptedException {
        python = python().orElse(null);
        Assumptions.assumeTrue(python != null, "SKIPPED: the Python client example needs python3 "
                + "(apt-get install -y python3 python3-matplotlib; .ci/run installs them)");
        stack = LocalStack.start("python-workers");
        gateway = stack.gateway();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    /** Debian's python3 (where .ci/run installs python3-matplotlib), else the first python3 on the PATH. */
    static Optional<Path> python() {
        Stream<Path> path = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty()).map(dir -> Path.of(dir, "python3"));
        return Stream.concat(Stream.of(Path.of("/usr/bin/python3")), path).filter(Files::isExecutable).findFirst();
    }

    record Run(int exitCode, String output) {}

    static Run run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(python.toString(), CLIENT.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("the client ends").isTrue();
        return new Run(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    @Test
    void theClientWritesTheStreamedJobInCaptumsLayoutAndPlotsIt(@TempDir Path out) throws Exception {
        String jobId = "python-template-shapley";
        Run run = run("--gateway", gateway.url(), "--job-id", jobId, "--out", out.toString(),
                "../protocol/src/main/resources/examples/seed-template-shapley.json");
        assertThat(run.exitCode()).as(run.output()).isZero();

        List<AttributionEvent> events;
        try (AttributionClient client = new AttributionClient(stack.bootstrapServers());
                var stream = client.events(jobId, Duration.ofSeconds(30))) {
            events = stream.toList();
        }
        AttributionEvent.Accepted accepted = (AttributionEvent.Accepted) events.get(0);
        List<AttributionEvent.Token> tokens = events.stream().filter(AttributionEvent.Token.class::isInstance)
                .map(AttributionEvent.Token.class::cast).toList();
        AttributionEvent.Completed completed = (AttributionEvent.Completed) events.get(events.size() - 1);
        assertThat(tokens).isNotEmpty();
        // it followed the stream: one line per target token as it arrived
        assertThat(run.output()).contains("submitted " + jobId);
        for (AttributionEvent.Token t : tokens) {
            assertThat(run.output()).contains("token " + t.index() + " ");
        }

        JsonNode result = Protocol.JSON.readTree(out.resolve("result.json").toFile());
        assertThat(strings(result.get("input_tokens"))).isEqualTo(accepted.features());
        assertThat(strings(result.get("output_tokens"))).isEqualTo(completed.outputTokens());
        assertThat(numbers(result.get("seq_attr"))).isEqualTo(completed.seqAttr());
        assertThat(result.get("token_attr")).hasSize(tokens.size());
        for (AttributionEvent.Token t : tokens) {
            assertThat(numbers(result.get("token_attr").get(t.index()))).as("token %d", t.index()).isEqualTo(t.attr());
        }

        // token_attr.csv: the features, then per target token its numbers (the last fields: a token may hold a comma)
        List<String> csv = Files.readAllLines(out.resolve("token_attr.csv"));
        assertThat(csv).hasSize(tokens.size() + 1);
        int features = accepted.features().size();
        for (AttributionEvent.Token t : tokens) {
            String[] fields = csv.get(t.index() + 1).split(",");
            List<Double> row = Arrays.stream(fields, fields.length - features, fields.length).map(Double::valueOf).toList();
            assertThat(row).as("csv row of token %d", t.index()).isEqualTo(t.attr());
        }

        Path png = out.resolve("token_attr.png");
        if (matplotlib()) {
            assertThat(run.output()).contains("plotted " + png);
            byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
            assertThat(head).isEqualTo(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        } else {
            System.out.println("NOTE: " + python + " has no matplotlib (apt-get install python3-matplotlib): "
                    + "the client's plot is not checked");
            assertThat(run.output()).contains("matplotlib is not importable");
            assertThat(png).doesNotExist();
        }
    }

    @Test
    void aRequestTheGatewayRefusesEndsTheClientWithTheFieldAtFault(@TempDir Path dir) throws Exception {
        ObjectNode request = (ObjectNode) Examples.read("seed-template-shapley");
        ((ObjectNode) request.get("method")).put("name", "no_such_method");
        Path file = dir.resolve("bad.json");
        Protocol.JSON.writeValue(file.toFile(), request);
        Run run = run("--gateway", gateway.url(), "--job-id", "python-refused", "--out", dir.toString(), file.toString());
        assertThat(run.exitCode()).isNotZero();
        assertThat(run.output()).contains("the gateway refused the request: HTTP 400").contains("method.name")
                .doesNotContain("Traceback");
        assertThat(dir.resolve("result.json")).doesNotExist();
    }

    static boolean matplotlib() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(python.toString(), "-c", "import matplotlib").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<Double> numbers(JsonNode array) {
        List<Double> out = new ArrayList<>();
        array.forEach(n -> out.add(n.doubleValue()));
        return out;
    }
}
