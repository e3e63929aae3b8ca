package org.llmattrib.attribution;

import java.util.LinkedHashMap;
import java.util.Map;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.LlamaModel;

/** What a job cost the model: batched forward and backward calls, rows, and model FLOPs. */
public final class Work {
    private final LlamaModel model;
    private long forwards;
    private long backwards;
    private long rows;
    private long flops;

    public Work(LlamaModel model) {
        this.model = model;
    }

    /** A forward of {@code rows} rows of {@code tokens} new tokens after {@code past} cached ones, scoring {@code scored} positions. */
    public void forward(long rows, long tokens, long past, long scored) {
        forward(rows, tokens, past, scored, model.config().numLayers());
    }

    /** Like {@link #forward(long, long, long, long)} through the last {@code decoderLayers} decoder layers only. */
    public void forward(long rows, long tokens, long past, long scored, int decoderLayers) {
        forwards++;
        this.rows += rows;
        flops += model.forwardFlops(rows * tokens, past + (tokens + 1) / 2, scored, decoderLayers);
    }

    /**
     * A backward through the last {@code decoderLayers} decoder layers of a forward like
     * {@link #forward}, to the activations ({@link LlamaConfig#backwardFlops}).
     */
    public void backward(long rows, long tokens, long scored, int decoderLayers) {
        backwards++;
        flops += model.config().backwardFlops(rows * tokens, (tokens + 1) / 2, scored, decoderLayers);
    }

    public Map<String, Number> toMap() {
        Map<String, Number> m = new LinkedHashMap<>();
        m.put("forwards", forwards);
        m.put("backwards", backwards);
        m.put("rows", rows);
        m.put("flops", flops);
        return m;
    }
}
