package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The interpretable features of the prompt, by {@code type}. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = InputSpec.Tokens.class, name = "tokens"),
    @JsonSubTypes.Type(value = InputSpec.Template.class, name = "template"),
    @JsonSubTypes.Type(value = InputSpec.Segments.class, name = "segments"),
    @JsonSubTypes.Type(value = InputSpec.Chat.class, name = "chat")
})
public sealed interface InputSpec {

    /**
     * Every prompt token is a feature (Captum's TextTokenInput).
     *
     * @param text the prompt
     * @param skipTokens token ids (numbers) or token strings kept as they are, without attribution;
     *     default: BOS
     * @param baselineTokenId replaces absent tokens; default 0
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Tokens(String text, List<JsonNode> skipTokens, Long baselineTokenId) implements InputSpec {
        public long baselineTokenIdOrDefault() {
            return baselineTokenId == null ? 0 : baselineTokenId;
        }
    }

    /**
     * Template slots as features (Captum's TextTemplateInput).
     *
     * @param template the prompt with {@code {}} or {@code {name}} slots
     * @param values an array (for {@code {}} slots) or an object (for {@code {name}} slots) of strings
     * @param baselines like values, or {@code {"product": {"key" or "k1,k2": [alternatives]}}}
     *     (Captum's ProductBaselines); default: the empty string
     * @param mask like values, of integers: values with the same number form one feature
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Template(String template, JsonNode values, JsonNode baselines, JsonNode mask) implements InputSpec {
        /** Value names in order: the object's keys, or empty for an array. */
        public List<String> valueNames() {
            List<String> names = new ArrayList<>();
            if (values.isObject()) {
                values.fieldNames().forEachRemaining(names::add);
            }
            return names;
        }

        /** The values in order, from the array or the object. */
        public List<String> valueList() {
            List<String> out = new ArrayList<>();
            values.forEach(v -> out.add(v.asText()));
            return out;
        }
    }

    /**
     * Few-shot examples as features: the declarative form of the seed notebook's prompt function.
     * Rendered as {@code before + (prefix + present segments joined by separator + suffix, when any
     * segment is present) + after}.
     *
     * @param before text before everything (default "")
     * @param prefix text before the present segments, when any is present
     * @param segments the features, at least one
     * @param separator text between present segments
     * @param suffix text after the present segments, when any is present
     * @param after text after everything
     * @param baselines replacements of absent segments; default "" (the segment disappears)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Segments(String before, String prefix, List<String> segments, String separator, String suffix,
            String after, List<String> baselines) implements InputSpec {

        /** One baseline per segment: the given ones, or "" for each. */
        public List<String> baselinesOrDefault() {
            return baselines == null ? Collections.nCopies(segments.size(), "") : baselines;
        }

        /** The prompt for the current segment texts, one per segment; empty (or null) ones are absent. */
        public String render(List<String> present) {
            List<String> nonEmpty = present.stream().filter(s -> s != null && !s.isEmpty()).toList();
            String middle = nonEmpty.isEmpty() ? ""
                    : orEmpty(prefix) + String.join(orEmpty(separator), nonEmpty) + orEmpty(suffix);
            return orEmpty(before) + middle + orEmpty(after);
        }

        private static String orEmpty(String s) {
            return s == null ? "" : s;
        }
    }

    /**
     * A conversation rendered with the model's chat template ({@code tokenizer_config.json}). Only
     * the messages' contents are features; the template's scaffolding (headers, BOS, end-of-turn
     * tokens) is never ablated.
     *
     * @param messages the conversation, at least one message
     * @param addGenerationPrompt end with the assistant header, as for a reply (default true)
     * @param features each content token a feature ({@code tokens}, default) or one per message
     * @param baselineTokenId replaces absent tokens; default 0
     * @param dateString the template's {@code date_string} (Llama 3.1+ write it into the system
     *     header); default: today, through {@code strftime_now}. Fix it for reproducible prompts.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Chat(List<Message> messages, Boolean addGenerationPrompt, ChatFeatures features, Long baselineTokenId,
            String dateString) implements InputSpec {

        /** One message: role {@code system}, {@code user} or {@code assistant}, and its content. */
        public record Message(String role, String content) {}

        public boolean addGenerationPromptOrDefault() {
            return addGenerationPrompt == null || addGenerationPrompt;
        }

        public ChatFeatures featuresOrDefault() {
            return features == null ? ChatFeatures.TOKENS : features;
        }

        public long baselineTokenIdOrDefault() {
            return baselineTokenId == null ? 0 : baselineTokenId;
        }
    }

    /** What the features of a chat input are. */
    enum ChatFeatures {
        @com.fasterxml.jackson.annotation.JsonProperty("tokens") TOKENS,
        @com.fasterxml.jackson.annotation.JsonProperty("messages") MESSAGES
    }
}
