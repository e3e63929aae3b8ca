package org.llmattrib.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.TestModels;

/**
 * deploy/gpu-check.sh, the one command of a GPU host, run here on the CPU with a small shape and one
 * type: its outputs land under $OUT, `bench seeds` prints a row per seed request and a burst per
 * --concurrency level, and the summary reads the real `selftest` and `bench seeds` output (a
 * change of their format would leave the summary's cells empty).
 */
class GpuCheckScriptTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("..").normalize();

    @Test
    void onTheCpuItWritesEveryOutputAndASummaryOfTheRealNumbers(@TempDir Path out) throws Exception {
        String cli = Path.of(System.getProperty("java.home"), "bin", "java") + " -Xmx2g -cp "
                + System.getProperty("java.class.path") + " org.llmattrib.cli.Main";
        ProcessBuilder pb = new ProcessBuilder("bash", ROOT.resolve("deploy/gpu-check.sh").toString(), "--device", "cpu",
                "--model", TestModels.tinyLlama3Dir().toAbsolutePath().toString(), "--types", "float32", "--repeats", "1",
                "--jobs", "2", "--concurrency", "1").redirectErrorStream(true).redirectOutput(out.resolve("log.txt").toFile());
        pb.environment().put("OUT", out.toString());
        pb.environment().put("ATTRIB", cli);
        Process p = pb.start();
        assertThat(p.waitFor(15, TimeUnit.MINUTES)).isTrue();
        String log = Files.readString(out.resolve("log.txt"), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(log).isZero();

        for (String file : List.of("env.txt", "selftest-float32.txt", "bench-seeds-float32.txt", "summary.md")) {
            assertThat(out.resolve(file)).as(log).exists();
        }
        assertThat(out.resolve("selftest-float32.rc")).hasContent("0");
        assertThat(out.resolve("bench-seeds-float32.rc")).hasContent("0");
        // bench seeds itself: a row per seed request (times, TFLOP/job, TFLOP/s, share of the peak, memory), then bursts
        List<String> bench = Files.readAllLines(out.resolve("bench-seeds-float32.txt"));
        String number = "[0-9.e+-]+";
        assertThat(bench).anySatisfy(l -> assertThat(l).matches("matmul peak, float32 on cpu: \\[512x2048\\]x\\[2048x8192\\]: "
                + number + " TFLOP/s"));
        for (String seed : Examples.SEED_REQUESTS) {
            assertThat(bench).as(seed).anySatisfy(l -> assertThat(l).matches(seed + " +(" + number + " +){5}" + number
                    + "% +" + number + " GiB RSS"));
        }
        assertThat(bench).anySatisfy(l -> assertThat(l).matches("1 +(" + number + "x? +){6}" + number));
        String summary = Files.readString(out.resolve("summary.md"));
        assertThat(summary).contains("- selftest-float32: exit 0; selftest cpu float32: 10 checks, all within the bound")
                .containsPattern("- float32: matmul peak, float32 on cpu: .* TFLOP/s")
                .containsPattern("- float32: c1=[0-9.]+");
        for (String seed : Examples.SEED_REQUESTS) {
            assertThat(summary).containsPattern("\\| " + seed + " \\| <= [0-9.]+ s \\| [0-9.]+ \\| [0-9.]+ \\| [0-9.e-]+ \\("
                    + "[0-9.]+%\\) \\| (yes|NO) \\| (yes|NO) \\|");
        }
    }
}
