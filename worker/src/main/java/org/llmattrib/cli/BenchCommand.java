package org.llmattrib.cli;

import java.util.concurrent.Callable;
import org.llmattrib.bench.RuntimeBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Benchmarks that print numbers (see BENCHMARKS.md for recorded runs). */
@Command(name = "bench", description = "Run a benchmark: runtime (forward throughput).")
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "runtime")
    String which;

    @Option(names = "--layers", defaultValue = "16", description = "decoder layers of the 1B-shaped model")
    int layers;

    @Option(names = "--repeats", defaultValue = "3")
    int repeats;

    @Override
    public Integer call() {
        switch (which) {
            case "runtime" -> RuntimeBenchmark.run(layers, repeats, System.out);
            default -> throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "unknown benchmark '" + which + "'");
        }
        return 0;
    }
}
