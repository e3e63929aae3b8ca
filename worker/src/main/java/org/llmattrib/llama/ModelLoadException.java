package org.llmattrib.llama;

/** A model directory that cannot be loaded; the message names the file, tensor or value at fault. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
