package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Llama's forward pass ({@code LlamaForCausalLM}) on DJL NDArrays: RMSNorm, grouped-query
 * attention with RoPE, SiLU MLP, tied or untied LM head. Every module the attribution methods hook
 * is a named tap (see {@link Taps}); the names are Hugging Face's module names.
 *
 * <p>Intermediate arrays are created in the manager of the input ids; callers scope that manager
 * per request or step. The model's weights live in the model's own manager.
 *
 * <p>Weights and matmuls are in the model's {@link #dtype()}; as in Hugging Face's Llama, RMSNorm,
 * the attention softmax and the logits run in the {@link #wideType()} (float32, or float64 for a
 * float64 model), cast back to the model's type where they feed a matmul. For float32 and float64
 * models every such cast is the identity.
 *
 * <p>RMSNorm, RoPE, attention and the MLP gate are {@link Kernels}: one native call each instead of
 * one per operation, which is what a forward on a GPU spends its time on at small batch sizes.
 */
public final class LlamaModel implements AutoCloseable {

    /** Reads one weight tensor by its Hugging Face name, as float32 of the given shape. */
    public interface WeightSource {
        NDArray load(String name, NDManager manager, long... shape);
    }

    private record Layer(
            TapNames names,
            NDArray inputNorm, NDArray q, NDArray k, NDArray v, NDArray o,
            NDArray postNorm, NDArray gate, NDArray up, NDArray down) {
        /** The weights in {@link Kernels#decoderLayer}'s order. */
        List<NDArray> weights() {
            return List.of(inputNorm, q, k, v, o, postNorm, gate, up, down);
        }
    }

    /** Tap names of one decoder layer, built once. */
    private record TapNames(
            String inputNorm, String q, String k, String v, String o,
            String postNorm, String gate, String up, String down, String mlp, String output) {
        static TapNames of(int i) {
            String p = "model.layers." + i;
            return new TapNames(p + ".input_layernorm", p + ".self_attn.q_proj", p + ".self_attn.k_proj",
                    p + ".self_attn.v_proj", p + ".self_attn.o_proj", p + ".post_attention_layernorm",
                    p + ".mlp.gate_proj", p + ".mlp.up_proj", p + ".mlp.down_proj", p + ".mlp", p);
        }

        List<String> all() {
            return List.of(inputNorm, q, k, v, o, postNorm, gate, up, down, mlp, output);
        }
    }

    public static final String EMBED = "model.embed_tokens";
    public static final String FINAL_NORM = "model.norm";
    /** model.layers.i (the layer's output) or model.layers.i.submodule. */
    private static final Pattern LAYER_TAP = Pattern.compile("model\\.layers\\.(\\d+)(\\..+)?");

    private final LlamaConfig config;
    private final NDManager manager;
    private final DataType dtype;
    private final DataType wide;
    private final NDArray embedTokens;
    private final NDArray finalNorm;
    private final NDArray lmHead;
    private final List<Layer> layers = new ArrayList<>();
    private final NDArray invFreq;
    /**
     * Scalars of the forward as model-owned arrays in the wide type. DJL's {@code mul(Number)} would
     * wrap the number in a temporary array and close it at once, while the autograd graph keeps it
     * for the backward: the GC may free it before then, and gradients read freed memory.
     */
    private final NDArray attentionScale;
    private final NDArray rmsNormEps;
    private final List<String> tapNames = new ArrayList<>();

    /**
     * Builds the model from {@code weights}, in {@code dtype} (FLOAT32 for serving, BFLOAT16 or
     * FLOAT16 for half the memory; FLOAT64 for exact checks). The model owns {@code manager} and closes it.
     */
    public LlamaModel(LlamaConfig config, WeightSource weights, NDManager manager, DataType dtype) {
        if (!EnumSet.of(DataType.FLOAT64, DataType.FLOAT32, DataType.BFLOAT16, DataType.FLOAT16).contains(dtype)) {
            manager.close();
            throw new IllegalArgumentException("model type " + dtype
                    + " is not one of float64, float32, bfloat16, float16");
        }
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.wide = dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        int h = config.hiddenSize();
        int qDim = config.numHeads() * config.headDim();
        int kvDim = config.numKvHeads() * config.headDim();
        int ff = config.intermediateSize();
        try {
            embedTokens = load(weights, EMBED + ".weight", config.vocabSize(), h);
            tapNames.add(EMBED);
            for (int i = 0; i < config.numLayers(); i++) {
                String p = "model.layers." + i + ".";
                TapNames names = TapNames.of(i);
                layers.add(new Layer(names,
                        load(weights, p + "input_layernorm.weight", h),
                        load(weights, p + "self_attn.q_proj.weight", qDim, h),
                        load(weights, p + "self_attn.k_proj.weight", kvDim, h),
                        load(weights, p + "self_attn.v_proj.weight", kvDim, h),
                        load(weights, p + "self_attn.o_proj.weight", h, qDim),
                        load(weights, p + "post_attention_layernorm.weight", h),
                        load(weights, p + "mlp.gate_proj.weight", ff, h),
                        load(weights, p + "mlp.up_proj.weight", ff, h),
                        load(weights, p + "mlp.down_proj.weight", h, ff)));
                tapNames.addAll(names.all());
            }
            finalNorm = load(weights, "model.norm.weight", h);
            tapNames.add(FINAL_NORM);
            lmHead = config.tieWordEmbeddings() ? embedTokens : load(weights, "lm_head.weight", config.vocabSize(), h);
            invFreq = manager.create(config.ropeInverseFrequencies()).toType(wide, false);
            attentionScale = manager.create(1.0 / Math.sqrt(config.headDim())).toType(wide, false);
            rmsNormEps = manager.create(config.rmsNormEps()).toType(wide, false);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** One weight in the model's type; the source's array is freed at once when it had another type. */
    private NDArray load(WeightSource weights, String name, long... shape) {
        NDArray a = weights.load(name, manager, shape);
        NDArray cast = toModelType(a);
        if (cast != a) {
            a.close();
        }
        return cast;
    }

    public LlamaConfig config() {
        return config;
    }

    /** The type of the weights, of every tap's output and of the matmuls. */
    public DataType dtype() {
        return dtype;
    }

    /** The type of norms, softmaxes and logits: float32, or float64 for a float64 model. */
    public DataType wideType() {
        return wide;
    }

    /** {@code x} in the model's type, differentiably (see {@link Kernels}). */
    public NDArray toModelType(NDArray x) {
        return Kernels.cast(x, dtype);
    }

    /** {@code x} in the {@link #wideType()}, differentiably. */
    public NDArray toWideType(NDArray x) {
        return Kernels.cast(x, wide);
    }

    public NDManager manager() {
        return manager;
    }

    /** All tap names in forward order. */
    public List<String> tapNames() {
        return List.copyOf(tapNames);
    }

    /**
     * Tap names matching {@code pattern}: an exact name, or a glob where {@code *} matches within
     * one dotted component ({@code model.layers.*.self_attn.q_proj}). Unknown names are an error
     * that lists the valid ones.
     */
    public List<String> resolveTaps(String pattern) {
        List<String> matched = tapNames.stream().filter(n -> globMatches(pattern, n)).toList();
        if (matched.isEmpty()) {
            throw new IllegalArgumentException("unknown layer '" + pattern + "'; valid layers are "
                    + EMBED + ", model.layers.N for N in 0.." + (config.numLayers() - 1)
                    + " and its submodules " + TapNames.of(0).all().stream()
                            .map(n -> n.substring("model.layers.0".length()))
                            .filter(s -> !s.isEmpty()).toList()
                    + ", " + FINAL_NORM + " (globs like model.layers.*.mlp select many)");
        }
        return matched;
    }

    /**
     * Whether {@code name} matches {@code glob} component by component ({@code *} within one):
     * a wildcard match that backs up to the last star only, so its time stays within
     * glob length x name length whatever the glob (a regex of a long glob took seconds to compile).
     */
    static boolean globMatches(String glob, String name) {
        String[] g = glob.split("\\.", -1);
        String[] n = name.split("\\.", -1);
        if (g.length != n.length) {
            return false;
        }
        for (int c = 0; c < g.length; c++) {
            if (!wildcard(g[c], n[c])) {
                return false;
            }
        }
        return true;
    }

    private static boolean wildcard(String p, String s) {
        int i = 0, j = 0, star = -1, mark = 0;
        while (j < s.length()) {
            if (i < p.length() && p.charAt(i) == s.charAt(j)) {
                i++;
                j++;
            } else if (i < p.length() && p.charAt(i) == '*') {
                star = i++;
                mark = j;
            } else if (star >= 0) {
                i = star + 1;
                j = ++mark;
            } else {
                return false;
            }
        }
        while (i < p.length() && p.charAt(i) == '*') {
            i++;
        }
        return i == p.length();
    }

    /**
     * The forward pass up to the final norm: hidden states [B, L, hidden]. The embeddings, then
     * {@link #forwardFrom} layer 0.
     *
     * @param ids [B, L] int64 token ids
     * @param mask [B, L] 1 for tokens, 0 for padding (any side); RoPE positions count tokens only
     * @param taps what to capture or replace; {@link Taps#NONE} for a plain forward
     * @param cache null, or a cache that this call extends with the new positions
     */
    public NDArray forward(NDArray ids, NDArray mask, Taps taps, KvCache cache) {
        NDArray x = Embedding.embedding(ids, embedTokens, SparseFormat.DENSE).singletonOrThrow(); // [B, L, hidden]
        return forwardFrom(0, x, mask, taps, cache);
    }

    /**
     * The forward from decoder layer {@code first} up to the final norm: hidden states [B, L, hidden].
     * {@code x} [B, L, hidden] is the residual stream entering that layer, the output of tap
     * {@link #streamInto}(first) (which this applies first); {@code first == numLayers} runs the final
     * norm only. On the activations the full forward has there, the result is the full forward's.
     *
     * @param cache null, or (from layer 0 only) a cache that this call extends with the new positions
     */
    public NDArray forwardFrom(int first, NDArray x, NDArray mask, Taps taps, KvCache cache) {
        if (cache != null && first > 0) {
            throw new IllegalArgumentException("a KV cache needs every layer: forward from layer 0");
        }
        boolean cached = cache != null && cache.keyMask != null;
        NDList shared = Kernels.prologue(mask, invFreq, x, cached ? cache.tokensSeen : null,
                cached ? cache.keyMask : null);
        NDArray cos = shared.get(0); // [B, 1, L, headDim]
        NDArray sin = shared.get(1);
        NDArray bias = shared.get(2); // [B, 1, L, S], S = cached + L

        x = taps.at(streamInto(first), x);
        for (int i = first; i < layers.size(); i++) {
            x = decoderLayer(i, x, cos, sin, bias, taps, cache);
        }
        if (cache != null) {
            cache.advance(shared.get(3), shared.get(4)); // key mask [B, S], tokens seen [B, 1]
        }
        return taps.at(FINAL_NORM, rmsNorm(x, finalNorm));
    }

    /** The tap whose output is the residual stream entering decoder layer {@code layer} (0..numLayers). */
    public String streamInto(int layer) {
        return layer == 0 ? EMBED : layers.get(layer - 1).names().output();
    }

    /**
     * The lowest decoder layer whose forward reads tap {@code name} (numLayers for the final norm):
     * with that tap replaced, {@link #forwardFrom} this layer recomputes everything that changes.
     * A tap inside layer i starts at i, the layer's output {@code model.layers.i} at i + 1.
     */
    public static int firstLayerReading(String name, LlamaConfig config) {
        if (name.equals(EMBED)) {
            return 0;
        }
        if (name.equals(FINAL_NORM)) {
            return config.numLayers();
        }
        Matcher layer = LAYER_TAP.matcher(name);
        if (!layer.matches()) {
            throw new IllegalArgumentException("not a tap: " + name);
        }
        int i = Integer.parseInt(layer.group(1));
        return layer.group(2) == null ? i + 1 : i;
    }

    /** One decoder layer: x + attention(norm(x)), then + mlp(norm(x)). [B, L, hidden] in and out. */
    private NDArray decoderLayer(int index, NDArray x, NDArray cos, NDArray sin, NDArray bias, Taps taps,
            KvCache cache) {
        Layer l = layers.get(index);
        TapNames n = l.names();
        if (!taps.touchesAny(n.all())) {
            return fusedLayer(index, l, x, cos, sin, bias, cache);
        }
        NDArray h = taps.at(n.inputNorm(), rmsNorm(x, l.inputNorm()));
        x = x.add(taps.at(n.o(), attention(index, l, h, cos, sin, bias, taps, cache)));
        NDArray h2 = taps.at(n.postNorm(), rmsNorm(x, l.postNorm()));
        return taps.at(n.output(), x.add(taps.at(n.mlp(), mlp(l, h2, taps))));
    }

    /**
     * The same layer in one native call ({@link Kernels#decoderLayer}), for a layer none of whose taps
     * is captured or replaced: what a perturbation forward runs in every layer.
     */
    private NDArray fusedLayer(int index, Layer l, NDArray x, NDArray cos, NDArray sin, NDArray bias, KvCache cache) {
        NDArray pastKeys = cache == null ? null : cache.keys[index];
        NDList out = Kernels.decoderLayer(x, cos, sin, bias, attentionScale, rmsNormEps, l.weights(), pastKeys,
                pastKeys == null ? null : cache.values[index]);
        if (cache != null) {
            cache.put(index, out.get(1), out.get(2));
        }
        return out.get(0);
    }

    /** Grouped-query self-attention with RoPE, through the KV cache when there is one: [B, L, hidden]. */
    private NDArray attention(int index, Layer l, NDArray h, NDArray cos, NDArray sin, NDArray bias, Taps taps,
            KvCache cache) {
        TapNames n = l.names();
        long batch = h.getShape().get(0);
        long len = h.getShape().get(1);
        int kvHeads = config.numKvHeads();
        int d = config.headDim();
        NDArray q = Kernels.ropeHeads(taps.at(n.q(), linear(h, l.q())), cos, sin); // [B, H, L, d]
        NDArray k = Kernels.ropeHeads(taps.at(n.k(), linear(h, l.k())), cos, sin); // [B, KV, L, d]
        NDArray v = taps.at(n.v(), linear(h, l.v())).reshape(batch, len, kvHeads, d).transpose(0, 2, 1, 3); // [B, KV, L, d]
        if (cache != null) {
            k = cache.append(index, k, v); // [B, KV, S, d], S = cached + L
            v = cache.values[index];
        }
        NDArray attn = Kernels.attend(q, k, v, bias, attentionScale); // softmax(q k^T / sqrt(d) + bias) v: [B, L, H*d]
        return linear(attn, l.o());
    }

    /** The SiLU-gated MLP: down(silu(gate(h)) * up(h)), [B, L, hidden]. */
    private NDArray mlp(Layer l, NDArray h, Taps taps) {
        TapNames n = l.names();
        NDArray gate = taps.at(n.gate(), linear(h, l.gate())); // [B, L, intermediate]
        NDArray up = taps.at(n.up(), linear(h, l.up()));
        return taps.at(n.down(), linear(Kernels.swiglu(gate, up), l.down())); // silu(gate) * up
    }

    /** x / sqrt(mean(x^2) + eps) in the wide type, times the weight in the model's type. */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        return Kernels.rmsNorm(x, weight, rmsNormEps);
    }

    private static NDArray linear(NDArray x, NDArray weight) {
        return Linear.linear(x, weight).singletonOrThrow();
    }

    /**
     * Logits [N, vocab], in the {@link #wideType()}, of the LM head at the given flat positions (row *
     * L + position) of {@code hidden}.
     */
    public NDArray logitsAt(NDArray hidden, long[] flatPositions) {
        Shape s = hidden.getShape();
        NDArray flat = hidden.reshape(s.get(0) * s.get(1), s.get(2));
        NDArray picked = flat.get(new NDIndex("{}", hidden.getManager().create(flatPositions)));
        return toWideType(linear(picked, lmHead));
    }

    /** log p(. ) over the vocabulary at the given flat positions: [N, vocab]. */
    public NDArray logSoftmaxAt(NDArray hidden, long[] flatPositions) {
        return logitsAt(hidden, flatPositions).logSoftmax(-1);
    }

    /** log p(token) at each given flat position for the given next tokens: [N]. */
    public NDArray logProbsAt(NDArray hidden, long[] flatPositions, long[] nextTokens) {
        NDArray logp = logSoftmaxAt(hidden, flatPositions);
        NDArray index = hidden.getManager().create(nextTokens).reshape(nextTokens.length, 1);
        return logp.gather(index, 1).reshape(nextTokens.length);
    }

    /** Checks ids against the vocabulary before they reach the native embedding lookup. */
    public void checkIds(long[] ids) {
        for (long id : ids) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
    }

    /** See {@link LlamaConfig#forwardFlops}. */
    public long forwardFlops(long tokens, long context, long scored) {
        return config.forwardFlops(tokens, context, scored);
    }

    /** See {@link LlamaConfig#forwardFlops(long, long, long, int)}. */
    public long forwardFlops(long tokens, long context, long scored, int decoderLayers) {
        return config.forwardFlops(tokens, context, scored, decoderLayers);
    }

    @Override
    public void close() {
        manager.close();
    }

}
