package org.llmattrib.llama;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes a small Llama-architecture checkpoint with random weights (fixed seed) in the exact
 * on-disk format of a Hugging Face download, for tests and the demo. Its outputs are meaningless;
 * it exercises the same loading and forward code as a real model.
 */
public final class TinyLlama {

    /** Shape and storage of the checkpoint to write. */
    public record Spec(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads,
            boolean tied, boolean llama3RopeScaling, int shards, long seed) {

        /** The demo/test default: the real Llama 3 vocabulary, so the real tokenizer works with it. */
        public static Spec llama3Vocab() {
            return new Spec(128256, 64, 128, 2, 4, 2, true, true, 1, 42);
        }

        /**
         * The self-test's shape: a vocabulary of three special tokens and the 256 bytes, for the
         * tokenizer {@link #writeByteTokenizer} writes.
         */
        public static Spec bytes(long seed) {
            return new Spec(BYTE_VOCAB, 64, 128, 2, 4, 2, true, true, 1, seed);
        }

        public Spec withShards(int n) {
            return new Spec(vocab, hidden, intermediate, layers, heads, kvHeads, tied, llama3RopeScaling, n, seed);
        }

        public Spec untied() {
            return new Spec(vocab, hidden, intermediate, layers, heads, kvHeads, false, llama3RopeScaling, shards, seed);
        }
    }

    /** Special tokens of the byte tokenizer (ids 0 to 2), then one token per byte (ids 3 to 258). */
    private static final List<String> BYTE_SPECIALS = List.of("<unk>", "<|begin_of_text|>", "<|end_of_text|>");
    public static final int BYTE_VOCAB = BYTE_SPECIALS.size() + 256;

    private record Tensor(String name, long[] shape, String dtype, float[] values) {}

    /** The demo and benchmark checkpoint, {@code .cache/demo-model}, written on first use. */
    public static Path demoCheckpoint(Path tokenizerJson) {
        Path dir = Path.of(".cache", "demo-model");
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            if (!Files.isRegularFile(tokenizerJson)) {
                throw new ModelLoadException("no tokenizer at " + tokenizerJson
                        + ": run .ci/fetch-tokenizer first (the Maven build does)");
            }
            write(dir, Spec.llama3Vocab(), tokenizerJson);
        }
        return dir;
    }

    private TinyLlama() {}

    /**
     * Writes {@code spec} to {@code dir}: config.json, safetensors (BF16 for the MLP up/down and
     * value projections, F32 for the rest) and, when given, a copy of {@code tokenizerJson} (and of the
     * {@code tokenizer_config.json} beside it, with its chat template).
     */
    public static Path write(Path dir, Spec spec, Path tokenizerJson) {
        try {
            Files.createDirectories(dir);
            writeConfig(dir, spec);
            List<Tensor> tensors = randomWeights(spec);
            if (spec.shards() <= 1) {
                writeSafeTensors(dir.resolve("model.safetensors"), tensors);
            } else {
                writeSharded(dir, tensors, spec.shards());
            }
            if (tokenizerJson != null) {
                Files.copy(tokenizerJson, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
                Path chat = tokenizerJson.resolveSibling("tokenizer_config.json");
                if (Files.isRegularFile(chat)) {
                    Files.copy(chat, dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A byte-level BPE {@code tokenizer.json} without merges, Hugging Face's format: every byte of
     * a text is one token (id 3 + byte value, in GPT-2's byte-to-character alphabet), after the
     * specials {@code <unk>} (0), {@code <|begin_of_text|>} (1, BOS) and {@code <|end_of_text|>} (2,
     * EOS), as {@link Spec#bytes} expects. Any text tokenizes without the Llama 3 tokenizer.json.
     */
    public static void writeByteTokenizer(Path dir) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode t = json.createObjectNode();
        t.put("version", "1.0");
        t.putNull("truncation");
        t.putNull("padding");
        var added = t.putArray("added_tokens");
        for (int id = 0; id < BYTE_SPECIALS.size(); id++) {
            added.addObject().put("id", id).put("content", BYTE_SPECIALS.get(id)).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        t.putNull("normalizer");
        t.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true).put("use_regex", true);
        t.putNull("post_processor");
        t.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = t.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token").putNull("continuing_subword_prefix").putNull("end_of_word_suffix");
        model.put("fuse_unk", false).put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < BYTE_SPECIALS.size(); id++) {
            vocab.put(BYTE_SPECIALS.get(id), id);
        }
        int[] alphabet = byteAlphabet();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(alphabet[b])), BYTE_SPECIALS.size() + b);
        }
        model.putArray("merges");
        try {
            Files.createDirectories(dir);
            json.writeValue(dir.resolve("tokenizer.json").toFile(), t);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** GPT-2's byte-level alphabet: printable bytes stand for themselves, the others map to 256 and up. */
    private static int[] byteAlphabet() {
        int[] chars = new int[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            chars[b] = printable ? b : next++;
        }
        return chars;
    }

    private static void writeConfig(Path dir, Spec s) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("vocab_size", s.vocab());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.hidden() / s.heads());
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", s.llama3RopeScaling() ? 500000.0 : 10000.0);
        c.put("tie_word_embeddings", s.tied());
        c.put("bos_token_id", s.vocab() == 128256 ? 128000 : 1);
        if (s.vocab() == 128256) {
            c.putArray("eos_token_id").add(128001).add(128008).add(128009);
        } else {
            c.put("eos_token_id", 2);
        }
        c.put("torch_dtype", "float32");
        if (s.llama3RopeScaling()) {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("factor", 32.0);
            r.put("high_freq_factor", 4.0);
            r.put("low_freq_factor", 1.0);
            r.put("original_max_position_embeddings", 8192);
            r.put("rope_type", "llama3");
        }
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), c);
    }

    private static List<Tensor> randomWeights(Spec s) {
        Random random = new Random(s.seed());
        int hd = s.hidden() / s.heads();
        List<Tensor> t = new ArrayList<>();
        t.add(gaussian(random, "model.embed_tokens.weight", "F32", s.vocab(), s.hidden()));
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            t.add(norm(random, p + "input_layernorm.weight", s.hidden()));
            t.add(gaussian(random, p + "self_attn.q_proj.weight", "F32", (long) s.heads() * hd, s.hidden()));
            t.add(gaussian(random, p + "self_attn.k_proj.weight", "F32", (long) s.kvHeads() * hd, s.hidden()));
            t.add(gaussian(random, p + "self_attn.v_proj.weight", "BF16", (long) s.kvHeads() * hd, s.hidden()));
            t.add(gaussian(random, p + "self_attn.o_proj.weight", "F32", s.hidden(), (long) s.heads() * hd));
            t.add(norm(random, p + "post_attention_layernorm.weight", s.hidden()));
            t.add(gaussian(random, p + "mlp.gate_proj.weight", "F32", s.intermediate(), s.hidden()));
            t.add(gaussian(random, p + "mlp.up_proj.weight", "BF16", s.intermediate(), s.hidden()));
            t.add(gaussian(random, p + "mlp.down_proj.weight", "BF16", s.hidden(), s.intermediate()));
        }
        t.add(norm(random, "model.norm.weight", s.hidden()));
        if (!s.tied()) {
            t.add(gaussian(random, "lm_head.weight", "F32", s.vocab(), s.hidden()));
        }
        return t;
    }

    /** Weights with std 1/sqrt(fan-in), so activations keep a healthy scale through the layers. */
    private static Tensor gaussian(Random random, String name, String dtype, long rows, long cols) {
        float[] v = new float[Math.toIntExact(rows * cols)];
        double std = 1.0 / Math.sqrt(cols);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return new Tensor(name, new long[] {rows, cols}, dtype, v);
    }

    private static Tensor norm(Random random, String name, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (1.0 + 0.1 * random.nextGaussian());
        }
        return new Tensor(name, new long[] {size}, "F32", v);
    }

    private static void writeSharded(Path dir, List<Tensor> tensors, int shards) throws IOException {
        Map<String, String> weightMap = new LinkedHashMap<>();
        int perShard = (tensors.size() + shards - 1) / shards;
        for (int s = 0; s < shards; s++) {
            String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            List<Tensor> part = tensors.subList(s * perShard, Math.min(tensors.size(), (s + 1) * perShard));
            part.forEach(t -> weightMap.put(t.name(), file));
            writeSafeTensors(dir.resolve(file), part);
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata");
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach(map::put);
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
    }

    private static void writeSafeTensors(Path file, List<Tensor> tensors) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Tensor t : tensors) {
            long bytes = (long) t.values().length * (t.dtype().equals("F32") ? 4 : 2);
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype());
            var shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            e.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = json.writeValueAsBytes(header);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length);
            out.write(len.array());
            out.write(headerBytes);
            for (Tensor t : tensors) {
                boolean f32 = t.dtype().equals("F32");
                ByteBuffer buf = ByteBuffer.allocate(t.values().length * (f32 ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : t.values()) {
                    if (f32) {
                        buf.putFloat(v);
                    } else {
                        buf.putShort(toBf16(v));
                    }
                }
                out.write(buf.array());
            }
        }
    }

    /** float32 to bfloat16, rounding to nearest even. */
    private static short toBf16(float v) {
        int bits = Float.floatToIntBits(v);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
