package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What is attributed at each target position k (request field {@code attr_target}):
 * {@code "log_prob"} (default), {@code "prob"}, or a contrast
 * {@code {"type": "contrast", "text": " tennis"}} / {@code {"type": "contrast", "ids": [...]}}, which
 * attributes log p(t_k | x, t_&lt;k) - log p(c_k | x, t_&lt;k) under the same teacher-forced prefix
 * ("why t and not c"). The contrast has one token per target token, or a single token for all.
 *
 * @param kind which quantity
 * @param text the contrast text (tokenized without special tokens), or null
 * @param ids the contrast token ids, or null
 */
public record AttrTarget(Kind kind, String text, List<Long> ids) {
    public static final AttrTarget LOG_PROB = new AttrTarget(Kind.LOG_PROB, null, null);

    public enum Kind { LOG_PROB, PROB, CONTRAST }

    /** From the JSON shapes the schema allows: a string, or a contrast object. */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static AttrTarget fromJson(JsonNode node) {
        if (node.isTextual()) {
            return new AttrTarget(Kind.valueOf(node.asText().toUpperCase(Locale.ROOT)), null, null);
        }
        List<Long> ids = null;
        if (node.has("ids")) {
            ids = new ArrayList<>();
            for (JsonNode id : node.get("ids")) {
                ids.add(id.asLong());
            }
        }
        return new AttrTarget(Kind.CONTRAST, node.has("text") ? node.get("text").asText() : null, ids);
    }

    @JsonValue
    public Object toJson() {
        if (kind != Kind.CONTRAST) {
            return kind.name().toLowerCase(Locale.ROOT);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("type", "contrast");
        if (text != null) {
            out.put("text", text);
        }
        if (ids != null) {
            out.put("ids", ids);
        }
        return out;
    }
}
