package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
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

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        edit.accept(c);
        json.writeValue(dir.resolve("config.json").toFile(), c);
    }
}
