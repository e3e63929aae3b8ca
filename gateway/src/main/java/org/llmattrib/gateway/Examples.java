package org.llmattrib.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import org.llmattrib.protocol.Protocol;

/** The seed notebook's requests, from the protocol's {@code /examples} resources; the dashboard offers them. */
public final class Examples {
    /** The seed requests, in the notebook's order. */
    public static final List<String> SEED_REQUESTS = List.of("seed-token-feature-ablation", "seed-template-shapley",
            "seed-fewshot-segments", "seed-lig-embeddings", "seed-lig-multilayer");

    /** One example request, as {@code GET /v1/examples} lists it. */
    public record Example(String name, JsonNode request) {}

    private Examples() {}

    public static List<Example> seeds() {
        return SEED_REQUESTS.stream().map(name -> new Example(name, read(name))).toList();
    }

    /** {@code /examples/<name>.json} of the protocol module. */
    public static JsonNode read(String name) {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            if (in == null) {
                throw new IllegalArgumentException("no example named " + name);
            }
            return Protocol.JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #read} with its {@code job_id} set: the bytes a client sends. */
    public static byte[] request(String name, String jobId) {
        ObjectNode node = (ObjectNode) read(name);
        node.put("job_id", jobId);
        return Protocol.encode(node);
    }
}
