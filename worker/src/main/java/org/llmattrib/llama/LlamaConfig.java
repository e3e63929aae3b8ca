package org.llmattrib.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The fields of a Hugging Face {@code config.json} that a Llama forward needs. */
public record LlamaConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        int bosTokenId,
        List<Integer> eosTokenIds) {

    /** Llama 3 frequency-dependent RoPE scaling ({@code rope_type: llama3}). */
    public record RopeScaling(
            double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

    public LlamaConfig {
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("config.json: num_attention_heads (" + numHeads
                    + ") is not a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    public static LlamaConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("missing " + file);
        }
        try {
            return parse(new ObjectMapper().readTree(file.toFile()), file);
        } catch (IOException e) {
            throw ModelLoadException.unreadable(file, e);
        }
    }

    static LlamaConfig parse(JsonNode c, Path file) {
        String type = c.path("model_type").asText("");
        if (!type.equals("llama")) {
            throw new ModelLoadException(file + ": model_type '" + type
                    + "' is not supported; only 'llama' (LlamaForCausalLM) is");
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new ModelLoadException(file + ": hidden_act '" + act + "' is not supported; Llama uses 'silu'");
        }
        if (c.path("attention_bias").asBoolean(false) || c.path("mlp_bias").asBoolean(false)) {
            throw new ModelLoadException(file + ": attention_bias / mlp_bias are not supported");
        }
        int hidden = required(c, "hidden_size", file);
        int heads = required(c, "num_attention_heads", file);
        int kvHeads = whole(c, "", "num_key_value_heads", heads, file);
        if (heads % kvHeads != 0) {
            throw new ModelLoadException(file + ": num_attention_heads (" + heads
                    + ") is not a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        int headDim = whole(c, "", "head_dim", Math.max(1, hidden / heads), file);
        if (headDim % 2 != 0) {
            throw new ModelLoadException(file + ": head_dim " + headDim
                    + " is odd; RoPE rotates pairs of dimensions (hidden_size / num_attention_heads when absent)");
        }
        // transformers 5 writes RoPE as one rope_parameters object; earlier versions rope_theta + rope_scaling
        JsonNode params = c.path("rope_parameters");
        String section = params.isObject() ? "rope_parameters" : "rope_scaling";
        JsonNode rope = params.isObject() ? params : c.path("rope_scaling");
        double theta = params.isObject() && params.has("rope_theta")
                ? positive(params, section + ".", "rope_theta", Double.NaN, file)
                : positive(c, "", "rope_theta", 10000.0, file);
        RopeScaling scaling = null;
        if (rope.isObject()) {
            String ropeType = rope.has("rope_type") ? rope.path("rope_type").asText() : rope.path("type").asText();
            if (ropeType.equals("llama3")) {
                String at = section + ".";
                double low = positive(rope, at, "low_freq_factor", Double.NaN, file);
                double high = positive(rope, at, "high_freq_factor", Double.NaN, file);
                if (high <= low) {
                    throw new ModelLoadException(file + ": " + at + "high_freq_factor (" + high
                            + ") must be larger than low_freq_factor (" + low + ")");
                }
                scaling = new RopeScaling(positive(rope, at, "factor", Double.NaN, file), low, high,
                        whole(rope, at, "original_max_position_embeddings", -1, file));
            } else if (!ropeType.equals("default")) {
                throw new ModelLoadException(file + ": " + section + " type '" + ropeType
                        + "' is not supported; use 'llama3' or none");
            }
        }
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.path("eos_token_id");
        if (e.isArray()) {
            e.forEach(n -> eos.add(n.asInt()));
        } else if (e.isInt()) {
            eos.add(e.asInt());
        }
        return new LlamaConfig(
                required(c, "vocab_size", file),
                hidden,
                required(c, "intermediate_size", file),
                required(c, "num_hidden_layers", file),
                heads,
                kvHeads,
                headDim,
                c.path("rms_norm_eps").asDouble(1e-6),
                theta,
                scaling,
                c.path("tie_word_embeddings").asBoolean(false),
                c.path("bos_token_id").asInt(-1),
                eos);
    }

    private static int required(JsonNode c, String field, Path file) {
        return whole(c, "", field, -1, file);
    }

    /** A positive whole number at {@code at + field}; {@code absent} when missing or null, if positive. */
    private static int whole(JsonNode c, String at, String field, int absent, Path file) {
        JsonNode n = c.get(field);
        if ((n == null || n.isNull()) && absent > 0) {
            return absent;
        }
        double v = n == null || !n.isNumber() ? Double.NaN : n.asDouble();
        if (!(v > 0 && v <= Integer.MAX_VALUE && v == Math.rint(v))) {
            throw new ModelLoadException(file + ": field '" + at + field + "' is missing or not a positive integer"
                    + (n == null ? "" : " (" + n + ")"));
        }
        return (int) v;
    }

    /** A positive finite number at {@code at + field}; {@code absent} when missing or null, if not NaN. */
    private static double positive(JsonNode c, String at, String field, double absent, Path file) {
        JsonNode n = c.get(field);
        if ((n == null || n.isNull()) && !Double.isNaN(absent)) {
            return absent;
        }
        double v = n == null || !n.isNumber() ? Double.NaN : n.asDouble();
        if (!(v > 0 && Double.isFinite(v))) {
            throw new ModelLoadException(file + ": field '" + at + field + "' is missing or not a positive number"
                    + (n == null ? "" : " (" + n + ")"));
        }
        return v;
    }

    /** RoPE inverse frequencies, with Llama 3 scaling when configured (as Hugging Face computes them). */
    public double[] ropeInverseFrequencies() {
        int half = headDim / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(ropeTheta, (2.0 * i) / headDim);
        }
        if (ropeScaling == null) {
            return inv;
        }
        RopeScaling s = ropeScaling;
        double lowFreqWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highFreqWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = inv[i] / s.factor();
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
            }
        }
        return inv;
    }

    /**
     * Model FLOPs (2 per multiply-add) of a forward over {@code tokens} new tokens, each attending
     * {@code context} keys on average, with the LM head at {@code scored} positions.
     */
    public long forwardFlops(long tokens, long context, long scored) {
        return forwardFlops(tokens, context, scored, numLayers);
    }

    /**
     * Like {@link #forwardFlops(long, long, long)} for a forward through the last
     * {@code decoderLayers} decoder layers only (and the final norm and LM head), as
     * {@link LlamaModel#forwardFrom} runs it from layer numLayers - decoderLayers.
     */
    public long forwardFlops(long tokens, long context, long scored, int decoderLayers) {
        long perLayer = 2L * layerParameterCount() + 4L * numHeads * headDim * context;
        return tokens * (decoderLayers * perLayer + 2L * hiddenSize) + scored * 2L * vocabSize * hiddenSize;
    }

    /**
     * Model FLOPs of the backward of {@link #forwardFlops(long, long, long, int)}'s forward to its
     * activations only, as attribution runs it (no weight takes a gradient): each weight product
     * once more ({@code dx = dy W}), and attention's two products twice ({@code dQ}, {@code dK}
     * from the scores' gradient, {@code dV} and the probabilities' gradient from the output's).
     */
    public long backwardFlops(long tokens, long context, long scored, int decoderLayers) {
        return forwardFlops(tokens, context, scored, decoderLayers)
                + tokens * decoderLayers * 4L * numHeads * headDim * context;
    }

    /** Parameters of the model, for FLOP counts. */
    public long parameterCount() {
        long embed = (long) vocabSize * hiddenSize;
        return numLayers * layerParameterCount() + hiddenSize + embed * (tieWordEmbeddings ? 1 : 2);
    }

    /** Parameters of one decoder layer: attention, MLP, two norms. */
    private long layerParameterCount() {
        long attn = (long) hiddenSize * headDim * (2L * numHeads + 2L * numKvHeads);
        long mlp = 3L * hiddenSize * intermediateSize;
        return attn + mlp + 2L * hiddenSize;
    }
}
