package org.llmattrib.llama;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.file.Path;

/** A model directory that cannot be loaded; the message names the file, tensor or value at fault. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }

    /** A JSON file that cannot be read or parsed, in one line (Jackson's own message adds its source). */
    static ModelLoadException unreadable(Path file, IOException e) {
        String why = e instanceof JsonProcessingException j
                ? "not valid JSON: " + j.getOriginalMessage() : "cannot read: " + e.getMessage();
        return new ModelLoadException(file + ": " + why, e);
    }
}
