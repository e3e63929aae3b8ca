package org.llmattrib.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.loader.ResourceNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The model's chat template ({@code tokenizer_config.json}'s {@code chat_template}, Jinja), rendered
 * as Hugging Face's {@code apply_chat_template} does: trim_blocks and lstrip_blocks, the variables
 * {@code messages}, {@code bos_token}, {@code eos_token}, {@code add_generation_prompt}, and the
 * functions {@code strftime_now} and {@code raise_exception}.
 */
public final class ChatTemplate {

    /** One chat message. */
    public record Message(String role, String content) {}

    /**
     * The rendered conversation and, per message, the character span [start, end) of its content
     * in {@code text}, or null when the template does not show that message's content.
     */
    public record Rendered(String text, int[][] contentSpans) {}

    /**
     * Where a message's content starts (with its index) and ends in the marked rendering: three
     * private-use characters that no message, role or date of the conversation contains.
     */
    private record Markers(String open, String close, String end) {
        static Markers absentFrom(List<Message> messages, String dateString) {
            StringBuilder all = new StringBuilder(dateString == null ? "" : dateString);
            messages.forEach(m -> all.append(m.role()).append(m.content()));
            for (char c = '\uE000'; c + 2 <= '\uF8FF'; c += 3) {
                String open = String.valueOf(c), close = String.valueOf((char) (c + 1)), end = String.valueOf((char) (c + 2));
                if (all.indexOf(open) < 0 && all.indexOf(close) < 0 && all.indexOf(end) < 0) {
                    return new Markers(open, close, end);
                }
            }
            throw new IllegalArgumentException("the conversation uses every private-use character; its contents"
                    + " cannot be located as features");
        }
    }

    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinja;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = template;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        // Python Jinja's semantics: whitespace control on {{- }} and {#- #} too; and a request's text
        // (message contents, roles, date_string) is data: Jinjava would otherwise render a value that
        // looks like a template ("{{ 7*7 }}", "{% include ... %}", loops) as one
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withKeepNullableLoopValues(true).build())
                .build());
        jinja.setResourceLocator((name, encoding, interpreter) -> {
            throw new ResourceNotFoundException("a chat template cannot include or import files (" + name + ")");
        });
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class,
                "strftimeNow", String.class));
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    /** The chat template of a model directory's {@code tokenizer_config.json}, if it has one. */
    public static Optional<ChatTemplate> load(Path tokenizerConfig) {
        if (!Files.isRegularFile(tokenizerConfig)) {
            return Optional.empty();
        }
        try {
            JsonNode config = new ObjectMapper().readTree(tokenizerConfig.toFile());
            JsonNode template = config.path("chat_template");
            if (!template.isTextual()) {
                return Optional.empty();
            }
            return Optional.of(new ChatTemplate(template.asText(), token(config.path("bos_token")),
                    token(config.path("eos_token"))));
        } catch (IOException e) {
            throw new ModelLoadException(tokenizerConfig + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** A special token is a string or an AddedToken object with a {@code content}. */
    private static String token(JsonNode node) {
        return node.isTextual() ? node.asText() : node.path("content").asText("");
    }

    /**
     * Renders the conversation.
     *
     * @param dateString the template's {@code date_string}, or null to let it call {@code strftime_now}
     * @throws IllegalArgumentException when the template fails (e.g. it raises for this conversation)
     */
    public Rendered render(List<Message> messages, boolean addGenerationPrompt, String dateString) {
        String text = renderText(messages, addGenerationPrompt, dateString, i -> messages.get(i).content());
        Markers m = Markers.absentFrom(messages, dateString);
        String marked = renderText(messages, addGenerationPrompt, dateString,
                i -> m.open() + i + m.close() + messages.get(i).content() + m.end());
        return new Rendered(text, contentSpans(text, marked, messages.size(), m));
    }

    private String renderText(List<Message> messages, boolean addGenerationPrompt, String dateString,
            java.util.function.IntFunction<String> content) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            Map<String, Object> m = new HashMap<>();
            m.put("role", messages.get(i).role());
            m.put("content", content.apply(i));
            list.add(m);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", list);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.put("add_generation_prompt", addGenerationPrompt);
        if (dateString != null) {
            vars.put("date_string", dateString);
        }
        // the call resolves to the registered function; the variable makes `strftime_now is defined` true, as in HF
        vars.put("strftime_now", "function");
        RenderResult result = jinja.renderForResult(template, vars);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            throw new IllegalArgumentException("the chat template failed: " + fatal.stream()
                    .map(ChatTemplate::reason).collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The innermost cause's message: a template's raise_exception text rather than Jinjava's wrapper. */
    private static String reason(TemplateError e) {
        Throwable t = e.getException();
        while (t != null && t.getCause() != null) {
            t = t.getCause();
        }
        return t != null && t.getMessage() != null ? t.getMessage() : e.getMessage();
    }

    /**
     * Where each message's content ends up. In the marked rendering every content is wrapped in
     * markers, so the text between one content's end marker and the next one's start marker is pure
     * scaffolding; the same scaffolding delimits the contents in the real rendering, whatever the
     * template does to them (trim, for instance).
     */
    private static int[][] contentSpans(String text, String marked, int count, Markers m) {
        List<String> scaffolding = new ArrayList<>();
        List<Integer> order = new ArrayList<>();
        int from = 0;
        for (int open = marked.indexOf(m.open()); open >= 0; open = marked.indexOf(m.open(), from)) {
            int close = marked.indexOf(m.close(), open);
            scaffolding.add(marked.substring(from, open));
            order.add(Integer.parseInt(marked.substring(open + 1, close)));
            from = marked.indexOf(m.end(), close) + 1;
        }
        String tail = marked.substring(from);
        scaffolding.add(tail);
        int[][] spans = new int[count][];
        if (!text.startsWith(scaffolding.get(0)) || !text.endsWith(tail)) {
            throw inconsistent();
        }
        int at = scaffolding.get(0).length();
        for (int k = 0; k < order.size(); k++) {
            String next = scaffolding.get(k + 1);
            boolean last = k + 1 == order.size();
            int end = last ? text.length() - tail.length() : text.indexOf(next, at);
            if ((next.isEmpty() && !last) || end < at || spans[order.get(k)] != null) {
                throw inconsistent();
            }
            spans[order.get(k)] = new int[] {at, end};
            at = end + next.length();
        }
        return spans;
    }

    private static IllegalArgumentException inconsistent() {
        return new IllegalArgumentException("the chat template repeats, merges or rewrites message contents; they"
                + " cannot be located as features");
    }

    /** Jinja {@code strftime_now(format)}: Python's strftime of the local time, for the directives templates use. */
    public static String strftimeNow(String format) {
        LocalDateTime now = LocalDateTime.now();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            String pattern = switch (d) {
                case 'd' -> "dd";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'm' -> "MM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                case 'j' -> "DDD";
                default -> null;
            };
            out.append(pattern == null ? (d == '%' ? "%" : "%" + d)
                    : now.format(DateTimeFormatter.ofPattern(pattern, Locale.ENGLISH)));
        }
        return out.toString();
    }

    /** Jinja {@code raise_exception(message)}: a template's own refusal of the conversation. */
    public static String raiseException(String message) {
        throw new IllegalArgumentException(message);
    }
}
