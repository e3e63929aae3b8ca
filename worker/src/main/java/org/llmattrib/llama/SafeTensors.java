package org.llmattrib.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.Map;

/**
 * Reads the tensors of a Hugging Face checkpoint ({@code model.safetensors}, or shards listed in
 * {@code model.safetensors.index.json}), memory-mapped, converting F32, BF16 and F16 to float32.
 *
 * <p>Our own reader because DJL's aborts the JVM on BF16 and cannot read files over 2 GiB.
 */
public final class SafeTensors {

    /** One tensor's place on disk. */
    public record Entry(Path file, String name, String dtype, long[] shape, long offset, long length) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Map<String, Entry> entries;

    private SafeTensors(Map<String, Entry> entries) {
        this.entries = entries;
    }

    /** Indexes every tensor of the checkpoint in {@code dir}. */
    public static SafeTensors open(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        Map<String, Entry> entries = new LinkedHashMap<>();
        if (Files.isRegularFile(index)) {
            JsonNode weightMap;
            try {
                weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            } catch (IOException e) {
                throw new ModelLoadException(index + ": not valid JSON: " + e.getMessage(), e);
            }
            if (!weightMap.isObject()) {
                throw new ModelLoadException(index + ": has no 'weight_map' object");
            }
            Set<String> shards = new LinkedHashSet<>();
            weightMap.forEach(shard -> shards.add(shard.asText()));
            for (String shard : shards) {
                entries.putAll(readHeader(dir.resolve(shard)));
            }
            for (Iterator<String> it = weightMap.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!entries.containsKey(name)) {
                    throw new ModelLoadException(index + ": tensor '" + name + "' is not in shard "
                            + weightMap.get(name).asText());
                }
            }
        } else if (Files.isRegularFile(single)) {
            entries.putAll(readHeader(single));
        } else {
            throw new ModelLoadException(dir + ": no model.safetensors or model.safetensors.index.json");
        }
        return new SafeTensors(entries);
    }

    private static Map<String, Entry> readHeader(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("missing safetensors file " + file);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelLoadException(file + ": truncated safetensors file (" + size + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > size) {
                throw new ModelLoadException(file + ": truncated or corrupt safetensors header (length "
                        + headerLen + ", file " + size + " bytes)");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            ch.read(header, 8);
            JsonNode json = new ObjectMapper().readTree(header.array());
            long dataStart = 8 + headerLen;
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode t = f.getValue();
                String dtype = t.path("dtype").asText();
                JsonNode shapeNode = t.path("shape");
                long[] shape = new long[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeNode.get(i).asLong();
                }
                long begin = t.path("data_offsets").path(0).asLong();
                long end = t.path("data_offsets").path(1).asLong();
                Entry e = new Entry(file, f.getKey(), dtype, shape, dataStart + begin, end - begin);
                if (dataStart + end > size) {
                    throw new ModelLoadException(file + ": truncated: tensor '" + f.getKey() + "' ends at byte "
                            + (dataStart + end) + " but the file has " + size);
                }
                int width = bytesPerElement(e);
                if (e.length() != e.elements() * width) {
                    throw new ModelLoadException(file + ": tensor '" + f.getKey() + "' has " + e.length()
                            + " bytes, expected " + e.elements() * width + " for its shape and dtype");
                }
                entries.put(f.getKey(), e);
            }
            return entries;
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static int bytesPerElement(Entry e) {
        return switch (e.dtype()) {
            case "F32" -> 4;
            case "BF16", "F16" -> 2;
            default -> throw new ModelLoadException(e.file() + ": tensor '" + e.name() + "' has dtype "
                    + e.dtype() + "; supported are F32, BF16, F16");
        };
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelLoadException("checkpoint has no tensor '" + name + "'");
        }
        return e;
    }

    /** The tensor as float32 in a direct native-order buffer, with its shape checked. */
    public FloatBuffer readFloats(String name, long... expectedShape) {
        Entry e = entry(name);
        if (!java.util.Arrays.equals(e.shape(), expectedShape)) {
            throw new ModelLoadException(e.file() + ": tensor '" + name + "' has shape "
                    + java.util.Arrays.toString(e.shape()) + ", expected " + java.util.Arrays.toString(expectedShape));
        }
        FloatBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(e.elements() * 4))
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        try (FileChannel ch = FileChannel.open(e.file(), StandardOpenOption.READ)) {
            ByteBuffer src = ch.map(FileChannel.MapMode.READ_ONLY, e.offset(), e.length())
                    .order(ByteOrder.LITTLE_ENDIAN);
            switch (e.dtype()) {
                case "F32" -> out.put(src.asFloatBuffer());
                case "BF16" -> {
                    while (src.hasRemaining()) {
                        out.put(Float.intBitsToFloat((src.getShort() & 0xffff) << 16));
                    }
                }
                case "F16" -> {
                    while (src.hasRemaining()) {
                        out.put(halfToFloat(src.getShort()));
                    }
                }
                default -> throw new IllegalStateException(e.dtype());
            }
        } catch (IOException ex) {
            throw new ModelLoadException(e.file() + ": cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        }
        return out.flip();
    }

    /** IEEE 754 binary16 to float (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
