package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.cli.CommandLineTest.Result;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TestModels;
import picocli.CommandLine;

/**
 * `attrib demo --once` in its own JVM, as README runs it: the dashboard's address first, every seed
 * request through the gateway, completed; the services' log in a file, never between the progress bars.
 */
class DemoCommandTest {
    /** A line of SLF4J's simple logger, e.g. {@code 18:48:01.689 [attribution-job] INFO org...}. */
    static final Pattern LOG_LINE = Pattern.compile("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[[^]]+\\] (TRACE|DEBUG|INFO|WARN|ERROR) ");

    @Test
    void theDemoPrintsTheDashboardFirstRunsEverySeedRequestAndLogsToAFileNotBetweenItsBars(@TempDir Path dir)
            throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path stdout = dir.resolve("demo.out");
        Path stderr = dir.resolve("demo.err");
        Process demo = new ProcessBuilder(java, "-Xmx2g", "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), "org.llmattrib.cli.Main", "demo", "--once", "--port", "0",
                "--tokenizer", TestModels.llama3Tokenizer().toString())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        assertThat(demo.waitFor(10, TimeUnit.MINUTES)).as("the demo ended").isTrue();
        List<String> lines = Files.readAllLines(stdout);
        String err = Files.readString(stderr);
        assertThat(demo.exitValue()).as(String.join("\n", lines) + "\n" + err).isZero();
        assertThat(lines.get(0)).matches("dashboard: http://127\\.0\\.0\\.1:\\d+/ .*");
        for (String seed : Examples.SEED_REQUESTS) {
            assertThat(lines).anyMatch(l -> l.startsWith("=== " + seed + " === http://127.0.0.1:"));
        }
        assertThat(lines.stream().filter(l -> l.startsWith("done in"))).hasSize(Examples.SEED_REQUESTS.size());

        assertThat(lines).noneMatch(l -> LOG_LINE.matcher(l).find());
        assertThat(err).doesNotContainPattern(LOG_LINE);
        String logLine = lines.stream().filter(l -> l.startsWith("log: ")).findFirst().orElseThrow();
        Path log = Path.of(logLine.substring("log: ".length(), logLine.indexOf(" (--verbose")));
        assertThat(log).isAbsolute().endsWith(LogOptions.DEMO_LOG);
        assertThat(Files.readString(log)).containsPattern(LOG_LINE).contains("INFO org.llmattrib.service.AttributionWorker");
    }

    @Test
    void aTakenDashboardPortIsNamedWithTheOptionThatSetsIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String port = String.valueOf(taken.getLocalPort());
            Result r = CommandLineTest.run("demo", "--once", "--port", port, "--verbose", "--tokenizer",
                    TestModels.llama3Tokenizer().toString());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err().strip()).endsWith("error: cannot listen on 127.0.0.1:" + port + " for the dashboard:"
                    + " Address already in use; --port sets the port (0: any free port, printed once bound)");
        }
    }

    @Test
    void theDemosWorkerHoldsTheModelInTheTypeAsked() {
        DemoCommand demo = new DemoCommand();
        new CommandLine(demo).parseArgs("--dtype", "bfloat16");
        assertThat(demo.workerSettings("127.0.0.1:9092", Path.of("m")).dtype())
                .isEqualTo(Precision.BFLOAT16);
        DemoCommand plain = new DemoCommand();
        new CommandLine(plain).parseArgs();
        assertThat(plain.workerSettings("127.0.0.1:9092", Path.of("m")).dtype())
                .isEqualTo(System.getenv("DTYPE") == null ? Precision.FLOAT32
                        : Precision.valueOf(System.getenv("DTYPE").toUpperCase()));
    }
}
