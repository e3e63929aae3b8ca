package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.llmattrib.bench.AttributionBenchmark;
import org.llmattrib.bench.ConcurrencyBenchmark;
import org.llmattrib.bench.KafkaOverheadBenchmark;
import org.llmattrib.bench.MultiLayerBenchmark;
import org.llmattrib.bench.RuntimeBenchmark;
import org.llmattrib.bench.SeedBenchmark;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TinyLlama;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Benchmarks that print numbers (see BENCHMARKS.md for recorded runs). */
@Command(name = "bench", description = "Run a benchmark: runtime (forward throughput), attribution (seed requests),"
        + " seeds (the seed requests on a resident model: job times, TFLOP/s, share of the matmul peak, memory, then"
        + " bursts through a worker), multilayer (multi-layer integrated gradients from the tapped layer against the"
        + " full forward), kafka (what the Kafka path and the HTTP gateway add), concurrency (jobs per second by"
        + " --concurrency). Each runs on --device, once per type of --dtype.")
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "runtime, attribution, seeds, multilayer, kafka or concurrency")
    String which;

    @Option(names = "--tokenizer", defaultValue = "${env:ATTRIB_TOKENIZER:-.cache/tokenizer/llama3/tokenizer.json}")
    Path tokenizer;

    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", split = ",", description = "model types to run, each in turn: float32, bfloat16,"
            + " float16 (default: float32,bfloat16 for runtime and attribution, float32 for the others)")
    List<Precision> dtypes;

    @Option(names = "--layers", defaultValue = "16", description = "decoder layers of the 1B-shaped model (default: ${DEFAULT-VALUE})")
    int layers;

    @Option(names = "--model", description = "seeds: a Hugging Face Llama directory instead of the random 1B shape")
    Path model;

    @Option(names = "--repeats", defaultValue = "3")
    int repeats;

    @Option(names = "--jobs", defaultValue = "20", description = "concurrency and seeds: requests per level (default: ${DEFAULT-VALUE})")
    int jobs;

    @Option(names = "--concurrency", defaultValue = "1,4", split = ",",
            description = "concurrency and seeds: the worker's --concurrency levels (default: ${DEFAULT-VALUE})")
    List<Integer> levels;

    @Override
    public Integer call() throws Exception {
        boolean both = which.equals("runtime") || which.equals("attribution");
        List<Precision> types = dtypes != null ? dtypes
                : both ? List.of(Precision.FLOAT32, Precision.BFLOAT16) : List.of(Precision.FLOAT32);
        if (which.equals("runtime")) {
            RuntimeBenchmark.run(layers, repeats, device, types, System.out);
            return 0;
        }
        for (Precision dtype : types) {
            switch (which) {
                case "attribution" -> attribution(dtype);
                case "seeds" -> {
                    try (Llama llama = model != null ? Llama.load(model, device, dtype.dataType())
                            : AttributionBenchmark.randomOneB(layers, tokenizer, device, dtype)) {
                        SeedBenchmark.run(llama, model != null ? model.toString() : "Llama-3.2-1B shape, random weights",
                                repeats, jobs, levels, System.out);
                    }
                }
                case "multilayer" -> {
                    try (Llama llama = AttributionBenchmark.randomOneB(layers, tokenizer, device, dtype)) {
                        MultiLayerBenchmark.run(llama, repeats, System.out);
                    }
                }
                case "kafka" -> KafkaOverheadBenchmark.run(TinyLlama.demoCheckpoint(tokenizer), device, dtype, repeats,
                        System.out);
                case "concurrency" -> ConcurrencyBenchmark.run(TinyLlama.demoCheckpoint(tokenizer), device, dtype,
                        () -> AttributionBenchmark.randomOneB(layers, tokenizer, device, dtype), jobs, levels, repeats,
                        System.out);
                default -> throw new CommandLine.ParameterException(new CommandLine(this),
                        "unknown benchmark '" + which + "'");
            }
            System.out.println();
        }
        return 0;
    }

    private void attribution(Precision dtype) {
        System.out.printf("== small, %s on %s: tiny random Llama (hidden 64, 2 layers, Llama 3 vocabulary) ==%n", dtype,
                device);
        try (Llama llama = Llama.load(TinyLlama.demoCheckpoint(tokenizer), device, dtype.dataType())) {
            AttributionBenchmark.run(llama, AttributionBenchmark.seedCases(), System.out);
        }
        System.out.printf("%n== large, %s on %s: Llama-3.2-1B shape (%d layers), random weights ==%n", dtype, device,
                layers);
        try (Llama llama = AttributionBenchmark.randomOneB(layers, tokenizer, device, dtype)) {
            AttributionBenchmark.run(llama, AttributionBenchmark.largeCases(), System.out);
        }
    }
}
