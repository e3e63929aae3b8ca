package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
    static final String SEED_PROMPT = "Dave lives in Palm Coast, FL and is a lawyer. His personal interests include";

    @Test
    void seedPromptGivesSeventeenIdsWithBosAddedOnce() {
        try (LlamaTokenizer t = LlamaTokenizer.load(TestModels.llama3Tokenizer(), 128000)) {
            LlamaTokenizer.Tokens tokens = t.encodePrompt(SEED_PROMPT);
            assertThat(tokens.size()).isEqualTo(17);
            assertThat(tokens.ids()).startsWith(128000, 56830, 6439, 304, 33578, 16377);
            assertThat(tokens.tokens()[0]).isEqualTo("<|begin_of_text|>");
            // character spans point into the text: token 1 is "Dave", token 2 is " lives"
            assertThat(SEED_PROMPT.substring(tokens.spans()[1][0], tokens.spans()[1][1])).isEqualTo("Dave");
            assertThat(t.tokenText(tokens.ids()[2])).isEqualTo(" lives");
            assertThat(t.encodePlain(" golf").ids()).doesNotContain(128000L);
        }
    }

    @Test
    void longTextIsNotTruncated() {
        try (LlamaTokenizer t = LlamaTokenizer.load(TestModels.llama3Tokenizer(), 128000)) {
            assertThat(t.encodePrompt("word ".repeat(2000)).size()).isGreaterThan(2000);
        }
    }

    /** The planner refuses a text longer than limit x this before tokenizing it. */
    @Test
    void noTokenCoversMoreCharactersThanTheLongestVocabularyEntry() {
        try (LlamaTokenizer t = LlamaTokenizer.load(TestModels.llama3Tokenizer(), 128000)) {
            assertThat(t.maxTokenChars()).isEqualTo(128); // a run of 128 spaces
            String spaces = " ".repeat(1000);
            assertThat(t.encodePlain(spaces).size()).isGreaterThanOrEqualTo(1000 / t.maxTokenChars());
            for (long id = 0; id < 128256; id += 97) {
                assertThat(t.tokenText(id).length()).isLessThanOrEqualTo(t.maxTokenChars());
            }
        }
    }

    @Test
    void bosIsNotDuplicatedWhenThePostProcessorAddsIt(@TempDir Path dir) throws Exception {
        // Llama-3.2's own tokenizer.json has a TemplateProcessing post-processor that prepends BOS
        ObjectMapper json = new ObjectMapper();
        ObjectNode tok = (ObjectNode) json.readTree(TestModels.llama3Tokenizer().toFile());
        tok.set("post_processor", json.readTree("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                         "tokens": ["<|begin_of_text|>"]}}}"""));
        Path file = dir.resolve("tokenizer.json");
        json.writeValue(file.toFile(), tok);
        try (LlamaTokenizer t = LlamaTokenizer.load(file, 128000)) {
            long[] ids = t.encodePrompt(SEED_PROMPT).ids();
            assertThat(ids).hasSize(17).startsWith(128000, 56830);
        }
        assertThat(Files.exists(file)).isTrue();
    }
}
