package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.llmattrib.gateway.Examples;
import org.llmattrib.llama.TestModels;

/** `attrib bench seeds`: a row per seed request with its times, rate, share of the peak and memory; then bursts. */
class BenchSeedsTest {
    private static final String NUMBER = "[0-9.e+-]+";

    @Test
    void aRowPerSeedRequestThenABurstPerConcurrencyLevel() {
        SelftestCommandTest.Result r = SelftestCommandTest.run("bench", "seeds", "--model",
                TestModels.tinyLlama3Dir().toString(), "--device", "cpu", "--dtype", "float32", "--repeats", "1",
                "--jobs", "4", "--concurrency", "1,2");
        assertThat(r.exitCode()).as(r.out()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).anySatisfy(l -> assertThat(l).matches("matmul peak, float32 on cpu: \\[512x2048\\]x\\[2048x8192\\]: "
                + NUMBER + " TFLOP/s"));
        for (String seed : Examples.SEED_REQUESTS) {
            assertThat(lines).as(seed).anySatisfy(l -> assertThat(l).matches(seed + " +(" + NUMBER + " +){5}" + NUMBER
                    + "% +" + NUMBER + " GiB RSS"));
        }
        for (int level : new int[] {1, 2}) {
            assertThat(lines).as("burst at %d", level).anySatisfy(l -> assertThat(l).matches(level + " +(" + NUMBER
                    + "x? +){6}" + NUMBER));
        }
    }
}
