package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad input fails with one message naming the file, tensor or value; the JVM survives. */
class BadModelInputTest {
    private static final TinyLlama.Spec SMALL = new TinyLlama.Spec(256, 16, 32, 1, 2, 1, true, false, 1, 3);

    @Test
    void missingDirectoryAndFiles(@TempDir Path dir) {
        assertThatThrownBy(() -> Llama.load(dir.resolve("nope"), "cpu", DataType.FLOAT32))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("missing").hasMessageContaining("config.json");
        TinyLlama.write(dir, SMALL, null);
        assertThatThrownBy(() -> {
            Files.delete(dir.resolve("model.safetensors"));
            Llama.load(dir, "cpu", DataType.FLOAT32);
        }).hasMessageContaining("no model.safetensors");
    }

    @Test
    void truncatedSafetensors(@TempDir Path dir) throws Exception {
        TinyLlama.write(dir, SMALL, null);
        Path file = dir.resolve("model.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() - 100);
        }
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("model.safetensors").hasMessageContaining("truncated");
    }

    @Test
    void corruptHeaderLength(@TempDir Path dir) throws Exception {
        TinyLlama.write(dir, SMALL, null);
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        }
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("corrupt safetensors header");
    }

    @Test
    void unknownArchitecture(@TempDir Path dir) throws Exception {
        TinyLlama.write(dir, SMALL, null);
        editConfig(dir, c -> c.put("model_type", "mistral"));
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("config.json").hasMessageContaining("model_type 'mistral'");
    }

    @Test
    void tensorOfTheWrongShape(@TempDir Path dir) throws Exception {
        TinyLlama.write(dir, SMALL, null);
        editConfig(dir, c -> c.put("intermediate_size", 48));
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("model.layers.0.mlp.gate_proj.weight")
                .hasMessageContaining("[32, 16]").hasMessageContaining("[48, 16]");
    }

    @Test
    void tokenIdOutsideTheVocabularyAndEmptyPrompt(@TempDir Path dir) {
        TinyLlama.write(dir, SMALL, null);
        try (Llama llama = Llama.load(dir, "cpu", DataType.FLOAT32)) {
            assertThatThrownBy(() -> llama.score(new long[] {1, 256}, new long[] {3}))
                    .hasMessageContaining("token id 256 is outside the vocabulary [0, 256)");
            assertThatThrownBy(() -> llama.generate(new long[0], 3, true)).hasMessageContaining("prompt is empty");
            assertThatThrownBy(llama::requireTokenizer).hasMessageContaining("has no tokenizer.json");
            assertThat(llama.score(new long[] {1, 5}, new long[] {3})).hasSize(1);
        }
    }

    @Test
    void unknownDevice() {
        assertThatThrownBy(() -> Djl.device("tpu")).hasMessageContaining("'tpu' is not one of cpu, cuda, cuda:N");
    }

    @Test
    void transformers5RopeParametersMeanWhatRopeThetaAndRopeScalingMeant() throws Exception {
        ObjectMapper json = new ObjectMapper();
        String base = "{\"model_type\":\"llama\",\"vocab_size\":256,\"hidden_size\":64,\"intermediate_size\":128,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,";
        String scaling = "\"factor\":32.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                + "\"original_max_position_embeddings\":16,\"rope_type\":\"llama3\"";
        Path file = Path.of("config.json");
        LlamaConfig old = LlamaConfig.parse(json.readTree(base
                + "\"rope_theta\":500000.0,\"rope_scaling\":{" + scaling + "}}"), file);
        LlamaConfig v5 = LlamaConfig.parse(json.readTree(base
                + "\"rope_parameters\":{\"rope_theta\":500000.0," + scaling + "}}"), file);
        LlamaConfig unscaled = LlamaConfig.parse(json.readTree(base + "\"rope_theta\":500000.0}"), file);
        assertThat(v5).isEqualTo(old);
        assertThat(v5.ropeInverseFrequencies()).containsExactly(old.ropeInverseFrequencies());
        assertThat(v5.ropeTheta()).isEqualTo(500000.0);
        assertThat(v5.ropeInverseFrequencies()).isNotEqualTo(unscaled.ropeInverseFrequencies());
        assertThatThrownBy(() -> LlamaConfig.parse(json.readTree(base
                + "\"rope_parameters\":{\"rope_theta\":500000.0,\"rope_type\":\"yarn\",\"factor\":4}}"), file))
                .hasMessageContaining("rope_parameters type 'yarn' is not supported");
    }

    @Test
    void configValuesThatWouldComputeNonsenseAreRefusedAtLoad(@TempDir Path dir) throws Exception {
        TinyLlama.write(dir, SMALL, null);
        java.util.Map<java.util.function.Consumer<ObjectNode>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(c -> c.putObject("rope_scaling").put("rope_type", "llama3").put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192),
                "field 'rope_scaling.factor' is missing or not a positive number");
        cases.put(c -> c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0)
                .put("low_freq_factor", 4.0).put("high_freq_factor", 1.0).put("original_max_position_embeddings", 8192),
                "high_freq_factor (1.0) must be larger than low_freq_factor (4.0)");
        cases.put(c -> c.put("num_key_value_heads", 0), "field 'num_key_value_heads' is missing or not a positive integer (0)");
        cases.put(c -> c.put("head_dim", 7), "head_dim 7 is odd");
        cases.put(c -> c.put("hidden_size", 16.5), "field 'hidden_size' is missing or not a positive integer (16.5)");
        cases.put(c -> c.put("rope_theta", -1), "field 'rope_theta' is missing or not a positive number (-1)");
        for (var c : cases.entrySet()) {
            TinyLlama.write(dir, SMALL, null);
            editConfig(dir, c.getKey());
            assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("config.json").hasMessageContaining(c.getValue());
        }
    }

    @Test
    void safetensorsOffsetsThatAreNegativeOverlapOrLeaveGapsAreRefused(@TempDir Path dir) throws Exception {
        String gate = "model.layers.0.mlp.gate_proj.weight";
        String up = "model.layers.0.mlp.up_proj.weight";
        TinyLlama.write(dir, SMALL, null);
        editHeader(dir, h -> ((ObjectNode) h.get("model.norm.weight")).putArray("data_offsets").add(-64).add(0), 0);
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("corrupt safetensors header: tensor 'model.norm.weight'")
                .hasMessageContaining("[-64,0]");

        TinyLlama.write(dir, SMALL, null);
        editHeader(dir, h -> {   // up_proj's bytes read from where gate_proj's begin
            long begin = h.get(gate).get("data_offsets").get(0).asLong();
            JsonNode own = h.get(up).get("data_offsets");
            ((ObjectNode) h.get(up)).putArray("data_offsets").add(begin).add(begin + own.get(1).asLong() - own.get(0).asLong());
        }, 0);
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("tensors must not overlap or leave gaps");

        TinyLlama.write(dir, SMALL, null);
        editHeader(dir, h -> {
            var lastEnd = new long[1];
            h.fields().forEachRemaining(f -> lastEnd[0] = Math.max(lastEnd[0], f.getValue().path("data_offsets").path(1).asLong()));
            h.fields().forEachRemaining(f -> {
                JsonNode o = f.getValue().path("data_offsets");
                if (o.path(1).asLong() == lastEnd[0]) {
                    ((ObjectNode) f.getValue()).putArray("data_offsets").add(o.get(0).asLong() + 64).add(lastEnd[0] + 64);
                }
            });
        }, 64);
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("tensors must not overlap or leave gaps");

        TinyLlama.write(dir, SMALL, null);
        editHeader(dir, h -> { }, 16);
        assertThatThrownBy(() -> Llama.load(dir, "cpu", DataType.FLOAT32))
                .hasMessageContaining("its tensors end at byte").hasMessageContaining("but the file has");

        TinyLlama.write(dir, SMALL, null);
        editHeader(dir, h -> { }, 0);
        try (Llama llama = Llama.load(dir, "cpu", DataType.FLOAT32)) {
            assertThat(llama.score(new long[] {1, 5}, new long[] {3})).hasSize(1);
        }
    }

    /** Rewrites model.safetensors with its header edited and {@code extra} zero bytes appended. */
    private static void editHeader(Path dir, java.util.function.Consumer<ObjectNode> edit, int extra) throws Exception {
        Path file = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        int len = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = (ObjectNode) json.readTree(java.util.Arrays.copyOfRange(bytes, 8, 8 + len));
        edit.accept(header);
        byte[] h = json.writeValueAsBytes(header);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + bytes.length - 8 - len + extra).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(bytes, 8 + len, bytes.length - 8 - len);
        Files.write(file, out.array());
    }

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        edit.accept(c);
        json.writeValue(dir.resolve("config.json").toFile(), c);
    }
}
