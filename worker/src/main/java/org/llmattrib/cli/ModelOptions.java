package org.llmattrib.cli;

import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import org.llmattrib.llama.Llama;
import picocli.CommandLine.Option;

/** Where the model is and where it runs. */
public final class ModelOptions {
    @Option(names = "--model", required = true, description = "Hugging Face Llama directory (config.json, *.safetensors, tokenizer.json)")
    Path model;

    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    Llama load() {
        return Llama.load(model, device, DataType.FLOAT32);
    }
}
