package org.llmattrib.attribution.input;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Python-style format templates: {@code {}} slots filled in order, or {@code {name}} slots by name;
 * {@code {{} and {@code }}} are a literal brace, as in Python's {@code str.format}.
 */
public final class Templates {
    /** A slot (group 1 its name, null for {}), or an escaped brace (group 2). */
    private static final Pattern SLOT = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]*)?}|(\\{\\{|}})");

    private Templates() {}

    /** Slot names in order of appearance; an empty string for each positional {@code {}} slot. */
    public static List<String> slots(String template) {
        List<String> names = new ArrayList<>();
        Matcher m = SLOT.matcher(template);
        while (m.find()) {
            if (m.group(2) == null) {
                names.add(m.group(1) == null ? "" : m.group(1));
            }
        }
        return names;
    }

    /**
     * A renderer for {@code template} over values in the order of {@code valueNames} (empty list for
     * positional values).
     */
    public static Function<List<String>, String> renderer(String template, List<String> valueNames) {
        return values -> {
            StringBuilder out = new StringBuilder();
            Matcher m = SLOT.matcher(template);
            int next = 0;
            while (m.find()) {
                String name = m.group(1);
                String v = m.group(2) != null ? m.group(2).substring(1)
                        : name == null ? values.get(next++) : values.get(valueNames.indexOf(name));
                m.appendReplacement(out, Matcher.quoteReplacement(v));
            }
            m.appendTail(out);
            return out.toString();
        };
    }
}
