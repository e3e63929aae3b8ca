package org.llmattrib.llama;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL, with truncation and padding off (DJL's
 * default silently truncates to 512 tokens). The prompt starts with BOS exactly once: when the
 * tokenizer's post-processor does not add it (Llama 3 tokenizers without a template), we do.
 */
public final class LlamaTokenizer implements AutoCloseable {

    /** Ids, token strings and character spans [start, end) in the text (-1 for added tokens). */
    public record Tokens(long[] ids, String[] tokens, int[][] spans) {
        public int size() {
            return ids.length;
        }
    }

    private final HuggingFaceTokenizer tokenizer;
    private final int bosTokenId;
    private final ChatTemplate chatTemplate;
    private final int maxTokenChars;

    private LlamaTokenizer(HuggingFaceTokenizer tokenizer, int bosTokenId, ChatTemplate chatTemplate, int maxTokenChars) {
        this.tokenizer = tokenizer;
        this.bosTokenId = bosTokenId;
        this.chatTemplate = chatTemplate;
        this.maxTokenChars = maxTokenChars;
    }

    /** Loads {@code tokenizer.json}, and the chat template of the {@code tokenizer_config.json} beside it if any. */
    public static LlamaTokenizer load(Path file, int bosTokenId) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("missing " + file);
        }
        Djl.configure();
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file, Map.of(
                    "addSpecialTokens", "true", "truncation", "false", "padding", "false"));
            return new LlamaTokenizer(t, bosTokenId,
                    ChatTemplate.load(file.resolveSibling("tokenizer_config.json")).orElse(null),
                    longestToken(new ObjectMapper().readTree(file.toFile())));
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    /** The model's chat template, when its tokenizer_config.json has one. */
    public java.util.Optional<ChatTemplate> chatTemplate() {
        return java.util.Optional.ofNullable(chatTemplate);
    }

    /**
     * The length of the longest vocabulary entry or added token of a BPE tokenizer, in characters of
     * its alphabet (one per byte for byte-level BPE, so at least the characters of the text the token
     * covers); Integer.MAX_VALUE (no bound) for other models, and for BPE that fuses unknown
     * characters into one token.
     */
    private static int longestToken(JsonNode json) {
        JsonNode model = json.path("model");
        boolean fusesUnknown = model.path("fuse_unk").asBoolean(false) && !model.path("byte_fallback").asBoolean(false);
        if (!model.path("type").asText().equals("BPE") || fusesUnknown || !model.path("vocab").isObject()) {
            return Integer.MAX_VALUE;
        }
        int longest = 0;
        for (Iterator<String> tokens = model.path("vocab").fieldNames(); tokens.hasNext(); ) {
            longest = Math.max(longest, tokens.next().length());
        }
        for (JsonNode added : json.path("added_tokens")) {
            longest = Math.max(longest, added.path("content").asText().length());
        }
        return longest;
    }

    /** No token covers more characters of a text than this: a text of n characters has at least n / this tokens. */
    public int maxTokenChars() {
        return maxTokenChars;
    }

    /** A prompt: BOS first, exactly once. */
    public Tokens encodePrompt(String text) {
        Tokens t = toTokens(tokenizer.encode(text, true, false));
        if (bosTokenId < 0 || (t.size() > 0 && t.ids()[0] == bosTokenId)) {
            return t;
        }
        long[] ids = new long[t.size() + 1];
        String[] tokens = new String[t.size() + 1];
        int[][] spans = new int[t.size() + 1][];
        ids[0] = bosTokenId;
        tokens[0] = tokenizer.decode(new long[] {bosTokenId}, false);
        spans[0] = new int[] {-1, -1};
        System.arraycopy(t.ids(), 0, ids, 1, t.size());
        System.arraycopy(t.tokens(), 0, tokens, 1, t.size());
        System.arraycopy(t.spans(), 0, spans, 1, t.size());
        return new Tokens(ids, tokens, spans);
    }

    /** A continuation (a target): no special tokens. */
    public Tokens encodePlain(String text) {
        return toTokens(tokenizer.encode(text, false, false));
    }

    private static Tokens toTokens(Encoding e) {
        CharSpan[] cs = e.getCharTokenSpans();
        int[][] spans = new int[cs.length][];
        for (int i = 0; i < cs.length; i++) {
            spans[i] = cs[i] == null ? new int[] {-1, -1} : new int[] {cs[i].getStart(), cs[i].getEnd()};
        }
        return new Tokens(e.getIds(), e.getTokens(), spans);
    }

    /** The text of one token as it reads in the output (byte-level BPE markers decoded). */
    public String tokenText(long id) {
        return tokenizer.decode(new long[] {id}, false);
    }

    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "LlamaTokenizer(bos=" + bosTokenId + ")";
    }

}
