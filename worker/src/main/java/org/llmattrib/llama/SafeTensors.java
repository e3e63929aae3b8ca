package org.llmattrib.llama;

import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.util.Collection;
import java.util.Comparator;
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
                throw ModelLoadException.unreadable(index, e);
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
            JsonNode json;
            try {
                json = new ObjectMapper().readTree(header.array());
            } catch (JsonProcessingException e) {
                throw new ModelLoadException(file + ": corrupt safetensors header: " + e.getOriginalMessage(), e);
            }
            if (json == null || !json.isObject()) {
                throw new ModelLoadException(file + ": corrupt safetensors header: not a JSON object");
            }
            long dataStart = 8 + headerLen;
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    continue;
                }
                String name = f.getKey();
                JsonNode t = f.getValue();
                String dtype = t.path("dtype").asText();
                long[] shape = naturals(t.path("shape"), -1);
                long[] offsets = naturals(t.path("data_offsets"), 2);
                if (shape == null || offsets == null || offsets[1] < offsets[0]) {
                    throw new ModelLoadException(file + ": corrupt safetensors header: tensor '" + name
                            + "' needs a shape of sizes and data_offsets [begin, end] with 0 <= begin <= end, has "
                            + t.path("shape") + " and " + t.path("data_offsets"));
                }
                Entry e = new Entry(file, name, dtype, shape, dataStart + offsets[0], offsets[1] - offsets[0]);
                if (dataStart + offsets[1] > size) {
                    throw new ModelLoadException(file + ": truncated: tensor '" + name + "' ends at byte "
                            + (dataStart + offsets[1]) + " but the file has " + size);
                }
                int width = bytesPerElement(e);
                if (e.length() != e.elements() * width) {
                    throw new ModelLoadException(file + ": tensor '" + name + "' has " + e.length()
                            + " bytes, expected " + e.elements() * width + " for its shape and dtype");
                }
                entries.put(name, e);
            }
            requireContiguous(file, entries.values(), dataStart, size);
            return entries;
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * As the safetensors library requires: the tensors tile the data from its first byte to the
     * file's end, without overlaps or gaps (an overlap would read one tensor's bytes as another's).
     */
    private static void requireContiguous(Path file, Collection<Entry> entries, long dataStart, long size) {
        long next = dataStart;
        for (Entry e : entries.stream().sorted(Comparator.comparingLong(Entry::offset)
                .thenComparingLong(Entry::length)).toList()) {
            if (e.offset() != next) {
                throw new ModelLoadException(file + ": corrupt safetensors header: tensor '" + e.name()
                        + "' starts at data byte " + (e.offset() - dataStart) + " where the tensors before it end at "
                        + (next - dataStart) + " (tensors must not overlap or leave gaps)");
            }
            next += e.length();
        }
        if (next != size) {
            throw new ModelLoadException(file + ": corrupt safetensors file: its tensors end at byte " + next
                    + " but the file has " + size);
        }
    }

    /** The array's whole numbers, all >= 0 (and {@code count} of them unless negative); null otherwise. */
    private static long[] naturals(JsonNode array, int count) {
        if (!array.isArray() || (count >= 0 && array.size() != count)) {
            return null;
        }
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode n = array.get(i);
            if (!n.canConvertToExactIntegral() || !n.canConvertToLong() || n.asLong() < 0) {
                return null;
            }
            out[i] = n.asLong();
        }
        return out;
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
        if (e.elements() > Integer.MAX_VALUE / 4) {
            throw new ModelLoadException(e.file() + ": tensor '" + name + "' has " + e.elements()
                    + " elements, over 2 GiB as float32: this loader takes tensors up to 2 GiB as float32"
                    + " (Llama models up to about 8B parameters)");
        }
        FloatBuffer out = ByteBuffer.allocateDirect((int) (e.elements() * 4))
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
