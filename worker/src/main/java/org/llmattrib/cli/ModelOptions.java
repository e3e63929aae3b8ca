package org.llmattrib.cli;

import java.nio.file.Path;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.Precision;
import picocli.CommandLine.Option;

/** Where the model is and where it runs. */
public final class ModelOptions {
    @Option(names = "--model", required = true, description = "Hugging Face Llama directory (config.json, *.safetensors, tokenizer.json)")
    Path model;

    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", defaultValue = "${env:DTYPE:-float32}", description = "type of the weights and"
            + " matmuls: float32, bfloat16 (half the memory; norms, softmaxes and log-probs stay float32) or float16"
            + " (default: ${DEFAULT-VALUE})")
    Precision dtype;

    Llama load() {
        return Llama.load(model, device, dtype.dataType());
    }
}
