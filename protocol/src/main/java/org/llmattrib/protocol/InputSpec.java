package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    record Tokens(String text, List<SkipToken> skipTokens, Long baselineTokenId) implements InputSpec {
        public long baselineTokenIdOrDefault() {
            return baselineTokenId == null ? 0 : baselineTokenId;
        }
    }

    /** A prompt token kept as it is, without attribution: by id (a number) or by its text (a string). */
    sealed interface SkipToken {
        record Id(@JsonValue long id) implements SkipToken {}

        /** Must be one token of the model's tokenizer (the worker checks). */
        record Text(@JsonValue String text) implements SkipToken {}

        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static SkipToken of(JsonNode node) {
            return node.isIntegralNumber() ? new Id(node.asLong()) : new Text(node.asText());
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
    record Template(String template, Values values, Baselines baselines, Mask mask) implements InputSpec {}

    /**
     * A template's values: a list for {@code {}} slots ({@code names} empty), or an object for
     * {@code {name}} slots, in the object's order.
     */
    record Values(List<String> names, List<String> texts) {
        /** By name: the object form. */
        public boolean named() {
            return !names.isEmpty();
        }

        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static Values of(JsonNode node) {
            List<String> names = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            if (node.isObject()) {
                node.fields().forEachRemaining(e -> {
                    names.add(e.getKey());
                    texts.add(e.getValue().asText());
                });
            } else {
                node.forEach(v -> texts.add(v.asText()));
            }
            return new Values(List.copyOf(names), List.copyOf(texts));
        }

        @JsonValue
        Object json() {
            return named() ? byName(names, texts) : texts;
        }
    }

    /** A template's baselines, as given; the worker checks them against the values. */
    sealed interface Baselines {
        /** One string per value, in value order (a list). */
        record Fixed(@JsonValue List<String> values) implements Baselines {}

        /** One string per value name (an object), in the object's order. */
        record PerValue(@JsonValue Map<String, String> values) implements Baselines {}

        /**
         * Captum's ProductBaselines: per key ({@code "name"}, or {@code "n1,n2"} drawn together; value
         * positions when the values are a list), the alternatives, one drawn for every perturbed prompt.
         */
        record Product(Map<String, List<Alternative>> product) implements Baselines {}

        /** One alternative of a product key: one string per name of the key; a single string is written as such. */
        record Alternative(List<String> values, boolean tuple) {
            @JsonValue
            Object json() {
                return tuple ? values : values.get(0);
            }
        }

        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static Baselines of(JsonNode node) {
            if (node.isArray()) {
                return new Fixed(texts(node));
            }
            if (!node.has("product")) {
                Map<String, String> byName = new LinkedHashMap<>();
                node.fields().forEachRemaining(e -> byName.put(e.getKey(), e.getValue().asText()));
                return new PerValue(byName);
            }
            Map<String, List<Alternative>> product = new LinkedHashMap<>();
            node.get("product").fields().forEachRemaining(e -> {
                List<Alternative> alternatives = new ArrayList<>();
                e.getValue().forEach(alt -> alternatives.add(alt.isArray() ? new Alternative(texts(alt), true)
                        : new Alternative(List.of(alt.asText()), false)));
                product.put(e.getKey(), alternatives);
            });
            return new Product(product);
        }
    }

    /**
     * Values with the same integer form one feature: one integer per value, a list in value order or
     * an object by value name.
     */
    sealed interface Mask {
        record InOrder(@JsonValue List<Long> ids) implements Mask {}

        record PerValue(@JsonValue Map<String, Long> ids) implements Mask {}

        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static Mask of(JsonNode node) {
            if (node.isArray()) {
                List<Long> ids = new ArrayList<>();
                node.forEach(v -> ids.add(v.asLong()));
                return new InOrder(ids);
            }
            Map<String, Long> byName = new LinkedHashMap<>();
            node.fields().forEachRemaining(e -> byName.put(e.getKey(), e.getValue().asLong()));
            return new PerValue(byName);
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(v -> out.add(v.asText()));
        return out;
    }

    private static Map<String, String> byName(List<String> names, List<String> texts) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), texts.get(i));
        }
        return out;
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
