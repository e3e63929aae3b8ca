package org.llmattrib.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;

/**
 * A request file as {@code submit} and {@code explain} read it: its JSON with a job id (the one given
 * on the command line, else the file's, else one generated as the gateway does).
 *
 * @param generatedId whether the file had no {@code job_id} and one was generated
 */
record RequestFile(Path path, byte[] json, boolean generatedId) {

    /**
     * Reads {@code path}, with {@code jobId} as its job id when given.
     *
     * @throws IllegalArgumentException naming the file when it cannot be read
     */
    static RequestFile read(Path path, String jobId) {
        byte[] json = UserFiles.read(path, "request file");
        try {
            if (Protocol.JSON.readTree(json) instanceof ObjectNode node && (jobId != null || !node.has("job_id"))) {
                node.put("job_id", jobId != null ? jobId : AttributionRequest.newJobId());
                return new RequestFile(path, Protocol.JSON.writeValueAsBytes(node), jobId == null);
            }
        } catch (IOException e) {
            // not JSON: decoding says where
        }
        return new RequestFile(path, json, false);
    }

    /**
     * The request, validated with the workers' schema.
     *
     * @throws ProtocolException naming the field at fault
     */
    AttributionRequest decode() {
        return Protocol.decodeRequest(json);
    }

    /** The user's error for a request that does not decode: the file, what is wrong, and the field. */
    IllegalArgumentException invalid(ProtocolException e) {
        return new IllegalArgumentException("request file " + path + ": " + e.getMessage()
                + (e.field() == null || e.getMessage().contains(e.field()) ? "" : " (field " + e.field() + ")"));
    }

    /** Tells the job id when it was generated (the request is then known by it only). */
    void tellGeneratedId(String jobId, PrintStream err) {
        if (generatedId) {
            err.println("job id " + jobId + " (generated: " + path + " has no job_id)");
        }
    }
}
