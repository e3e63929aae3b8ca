package org.llmattrib.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The float32 matmul rate of a BLAS that is not libtorch's: numpy's, run by {@code python3} as a
 * subprocess on the same product as {@link RuntimeBenchmark}. Absent when there is no python3 with
 * numpy on the machine; then the benchmark says so and compares against libtorch alone.
 */
final class ReferenceBlas {
    private ReferenceBlas() {}

    /** @param gflops NaN when no reference ran; @param source what measured it, or why nothing did */
    record Rate(double gflops, String source) {
        String describe() {
            return Double.isNaN(gflops) ? "none (" + source + ")" : String.format("%.1f GFLOP/s (%s)", gflops, source);
        }
    }

    static Rate measure(int repeats) {
        try (InputStream script = ReferenceBlas.class.getResourceAsStream("matmul_reference.py")) {
            Process p = new ProcessBuilder("python3", "-", Integer.toString(repeats)).redirectErrorStream(true).start();
            p.getOutputStream().write(script.readAllBytes());
            p.getOutputStream().close();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return none("python3 took over 120 s");
            }
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.exitValue() != 0) {
                String last = output.substring(output.lastIndexOf('\n') + 1);
                return none("python3 with numpy failed: " + last);
            }
            int space = output.indexOf(' ');
            return new Rate(Double.parseDouble(output.substring(0, space)), output.substring(space + 1));
        } catch (IOException e) {
            return none("no python3: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return none("interrupted");
        }
    }

    private static Rate none(String why) {
        return new Rate(Double.NaN, why);
    }
}
