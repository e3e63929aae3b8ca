package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.TestModels;
import picocli.CommandLine;

/** `attrib demo --once`: the dashboard's address first, then every seed request through the gateway, completed. */
class DemoCommandTest {
    @Test
    void theDemoPrintsTheDashboardFirstAndRunsEverySeedRequestThroughTheGateway() {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = new CommandLine(new Main()).execute("demo", "--once", "--port", "0", "--tokenizer",
                    TestModels.llama3Tokenizer().toString());
        } finally {
            System.setOut(original);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(exit).as(String.join("\n", lines)).isZero();
        assertThat(lines.get(0)).matches("dashboard: http://127\\.0\\.0\\.1:\\d+/ .*");
        for (String seed : Examples.SEED_REQUESTS) {
            assertThat(lines).anyMatch(l -> l.startsWith("=== " + seed + " === http://127.0.0.1:"));
        }
        assertThat(lines.stream().filter(l -> l.startsWith("done in"))).hasSize(Examples.SEED_REQUESTS.size());
    }

    @Test
    void theDemosWorkerHoldsTheModelInTheTypeAsked() {
        DemoCommand demo = new DemoCommand();
        new CommandLine(demo).parseArgs("--dtype", "bfloat16");
        assertThat(demo.workerSettings("127.0.0.1:9092", java.nio.file.Path.of("m")).dtype())
                .isEqualTo(org.llmattrib.llama.Precision.BFLOAT16);
        DemoCommand plain = new DemoCommand();
        new CommandLine(plain).parseArgs();
        assertThat(plain.workerSettings("127.0.0.1:9092", java.nio.file.Path.of("m")).dtype())
                .isEqualTo(System.getenv("DTYPE") == null ? org.llmattrib.llama.Precision.FLOAT32
                        : org.llmattrib.llama.Precision.valueOf(System.getenv("DTYPE").toUpperCase()));
    }
}
