package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** `attrib selftest`: every method against the float64 path, passing on the CPU, failing on a miss. */
class SelftestCommandTest {
    private static final String[] CHECKS = {"seed-token-feature-ablation", "seed-template-shapley",
        "seed-fewshot-segments", "seed-lig-embeddings", "seed-lig-multilayer", "shapley_value_sampling", "kernel_shap",
        "lime", "layer_gradient_x_activation", "layer_gradient_shap"};

    record Result(int exitCode, String out) {}

    static Result run(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            int code = Main.commandLine().execute(args);
            return new Result(code, captured.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(original);
        }
    }

    @Test
    void everyMethodIsWithinTheFloat32BoundOnTheCpu() {
        Result r = run("selftest", "--device", "cpu");
        assertThat(r.exitCode()).as(r.out()).isZero();
        assertThat(r.out()).contains("libtorch 2.").contains("(the build inside the jar)").contains("devices: cpu")
                .contains("bound 1e-05").contains("10 checks, all within the bound");
        for (String check : CHECKS) {
            assertThat(r.out().lines().filter(l -> l.startsWith(check + " ")).findFirst()).as(check).hasValueSatisfying(
                    line -> assertThat(line).endsWith("  ok"));
        }
    }

    @Test
    void aMissExitsOne() {
        Result r = run("selftest", "--device", "cpu", "--checks", "seed-template-shapley", "--bound", "1e-12");
        assertThat(r.exitCode()).as(r.out()).isEqualTo(1);
        assertThat(r.out()).containsPattern("seed-template-shapley .* 1e-12 .*  MISS").contains("1 check, 1 MISSED");
    }

    @Test
    void anUnknownCheckIsNamed() {
        CommandLineTest.Result r = CommandLineTest.run("selftest", "--checks", "nope");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("'nope'").contains("kernel_shap");
    }
}
