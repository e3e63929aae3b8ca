package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.llmattrib.bench.AttributionBenchmark;
import org.llmattrib.bench.ConcurrencyBenchmark;
import org.llmattrib.bench.KafkaOverheadBenchmark;
import org.llmattrib.bench.MultiLayerBenchmark;
import org.llmattrib.bench.RuntimeBenchmark;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TinyLlama;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Benchmarks that print numbers (see BENCHMARKS.md for recorded runs). */
@Command(name = "bench", description = "Run a benchmark: runtime (forward throughput), attribution (seed requests),"
        + " multilayer (multi-layer integrated gradients from the tapped layer against the full forward),"
        + " kafka (what the Kafka path and the HTTP gateway add), concurrency (jobs per second by --concurrency).")
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "runtime, attribution, multilayer, kafka or concurrency")
    String which;

    @Option(names = "--tokenizer", defaultValue = "${env:ATTRIB_TOKENIZER:-.cache/tokenizer/llama3/tokenizer.json}")
    Path tokenizer;

    @Option(names = "--layers", defaultValue = "16", description = "decoder layers of the 1B-shaped model (default: ${DEFAULT-VALUE})")
    int layers;

    @Option(names = "--repeats", defaultValue = "3")
    int repeats;

    @Option(names = "--dtype", split = ",", defaultValue = "float32,bfloat16", description = "model types to run,"
            + " each in turn (runtime and attribution): float32, bfloat16, float16 (default: ${DEFAULT-VALUE})")
    List<Precision> dtypes;

    @Option(names = "--jobs", defaultValue = "20", description = "concurrency: requests per level (default: ${DEFAULT-VALUE})")
    int jobs;

    @Option(names = "--concurrency", defaultValue = "1,4", split = ",",
            description = "concurrency: the worker's --concurrency levels (default: ${DEFAULT-VALUE})")
    List<Integer> levels;

    @Override
    public Integer call() throws Exception {
        switch (which) {
            case "runtime" -> RuntimeBenchmark.run(layers, repeats, dtypes, System.out);
            case "attribution" -> attribution();
            case "multilayer" -> {
                try (Llama llama = AttributionBenchmark.randomOneB(layers, tokenizer, Precision.FLOAT32)) {
                    MultiLayerBenchmark.run(llama, repeats, System.out);
                }
            }
            case "kafka" -> KafkaOverheadBenchmark.run(TinyLlama.demoCheckpoint(tokenizer), repeats, System.out);
            case "concurrency" -> ConcurrencyBenchmark.run(TinyLlama.demoCheckpoint(tokenizer),
                    () -> AttributionBenchmark.randomOneB(layers, tokenizer, Precision.FLOAT32), jobs, levels, repeats, System.out);
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "unknown benchmark '" + which + "'");
        }
        return 0;
    }

    private void attribution() {
        for (Precision dtype : dtypes) {
            System.out.printf("== small, %s: tiny random Llama (hidden 64, 2 layers, Llama 3 vocabulary) ==%n", dtype);
            try (Llama llama = Llama.load(TinyLlama.demoCheckpoint(tokenizer), "cpu", dtype.dataType())) {
                AttributionBenchmark.run(llama, AttributionBenchmark.seedCases(), System.out);
            }
            System.out.printf("%n== large, %s: Llama-3.2-1B shape (%d layers), random weights ==%n", dtype, layers);
            try (Llama llama = AttributionBenchmark.randomOneB(layers, tokenizer, dtype)) {
                AttributionBenchmark.run(llama, AttributionBenchmark.largeCases(), System.out);
            }
            System.out.println();
        }
    }
}
