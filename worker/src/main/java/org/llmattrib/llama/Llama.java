package org.llmattrib.llama;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * A Llama checkpoint directory loaded once and kept resident: the model, its tokenizer (when the
 * directory has one) and its stop tokens. Thread-safe for concurrent forwards: weights are only
 * read; each call works in its own sub-manager, released when the call returns.
 */
public final class Llama implements AutoCloseable {
    private final LlamaModel model;
    private final LlamaTokenizer tokenizer;
    private final Set<Long> eosTokenIds;
    private final Path directory;

    public Llama(LlamaModel model, LlamaTokenizer tokenizer, Set<Long> eosTokenIds, Path directory) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.eosTokenIds = Set.copyOf(eosTokenIds);
        this.directory = directory;
    }

    /** Loads a Hugging Face Llama directory ({@code config.json}, safetensors, {@code tokenizer.json}). */
    public static Llama load(Path dir, String device, DataType dtype) {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("model directory " + dir + " does not exist");
        }
        Djl.configure();
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        SafeTensors weights = SafeTensors.open(dir);
        Device dev = Djl.device(device);
        LlamaModel model = new LlamaModel(config,
                (name, manager, shape) -> manager.create(weights.readFloats(name, shape), new Shape(shape)),
                NDManager.newBaseManager(dev, "PyTorch"), dtype);
        Path tokenizerFile = dir.resolve("tokenizer.json");
        LlamaTokenizer tokenizer = Files.isRegularFile(tokenizerFile)
                ? LlamaTokenizer.load(tokenizerFile, config.bosTokenId()) : null;
        Set<Long> eos = new LinkedHashSet<>();
        config.eosTokenIds().forEach(id -> eos.add(id.longValue()));
        eos.addAll(generationConfigEos(dir.resolve("generation_config.json")));
        return new Llama(model, tokenizer, eos, dir);
    }

    private static Set<Long> generationConfigEos(Path file) {
        Set<Long> eos = new LinkedHashSet<>();
        if (Files.isRegularFile(file)) {
            try {
                JsonNode e = new ObjectMapper().readTree(file.toFile()).path("eos_token_id");
                if (e.isArray()) {
                    e.forEach(n -> eos.add(n.asLong()));
                } else if (e.canConvertToLong()) {
                    eos.add(e.asLong());
                }
            } catch (IOException ex) {
                throw ModelLoadException.unreadable(file, ex);
            }
        }
        return eos;
    }

    public LlamaModel model() {
        return model;
    }

    public Optional<LlamaTokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** The tokenizer, or a clear error when the model directory has none. */
    public LlamaTokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new IllegalArgumentException("model directory " + directory
                    + " has no tokenizer.json; give token ids instead of text");
        }
        return tokenizer;
    }

    public Set<Long> eosTokenIds() {
        return eosTokenIds;
    }

    public Path directory() {
        return directory;
    }

    /** log p(target_t | prompt, target_&lt;t) for every target token, in one teacher-forced forward. */
    public double[] score(long[] prompt, long[] target) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt is empty");
        }
        long[] ids = new long[prompt.length + target.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(target, 0, ids, prompt.length, target.length);
        model.checkIds(ids);
        long[] positions = new long[target.length];
        for (int t = 0; t < target.length; t++) {
            positions[t] = prompt.length - 1 + t;
        }
        try (NDManager m = model.manager().newSubManager()) {
            NDArray idArray = m.create(ids).reshape(1, ids.length);
            NDArray hidden = model.forward(idArray, m.ones(idArray.getShape(), DataType.INT64), Taps.NONE, null);
            return toDoubles(model.logProbsAt(hidden, positions, target));
        }
    }

    /** Greedy decoding with a KV cache; stops after an EOS token (kept, as Hugging Face does) when asked. */
    public long[] generate(long[] prompt, int maxNewTokens, boolean stopOnEos) {
        return generate(prompt, maxNewTokens, stopOnEos, () -> {});
    }

    /**
     * {@link #generate(long[], int, boolean)}, calling {@code checkpoint} before every token step;
     * a checkpoint that throws (a deadline, a cancel) stops the generation and frees its arrays.
     */
    public long[] generate(long[] prompt, int maxNewTokens, boolean stopOnEos, Runnable checkpoint) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt is empty");
        }
        model.checkIds(prompt);
        long[] out = new long[maxNewTokens];
        int n = 0;
        try (NDManager m = model.manager().newSubManager()) {
            KvCache cache = new KvCache(model.config().numLayers());
            long[] next = prompt;
            while (n < maxNewTokens) {
                checkpoint.run();
                try (NDManager step = m.newSubManager()) {
                    NDArray ids = step.create(next).reshape(1, next.length);
                    NDArray hidden = model.forward(ids, step.ones(ids.getShape(), DataType.INT64), Taps.NONE, cache);
                    long token = model.logitsAt(hidden, new long[] {next.length - 1}).argMax(-1).getLong(0);
                    cache.attach(m);
                    out[n++] = token;
                    if (stopOnEos && eosTokenIds.contains(token)) {
                        break;
                    }
                    next = new long[] {token};
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    static double[] toDoubles(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    @Override
    public void close() {
        model.close();
        if (tokenizer != null) {
            tokenizer.close();
        }
    }
}
