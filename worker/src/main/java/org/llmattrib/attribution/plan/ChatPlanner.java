package org.llmattrib.attribution.plan;

import java.util.ArrayList;
import java.util.List;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.llama.ChatTemplate;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.protocol.InputSpec;

/**
 * A conversation rendered with the model's chat template and tokenized as a whole (no special
 * tokens added: the template writes them); features are the tokens inside the messages' contents,
 * one by one or grouped per message. Scaffolding tokens are never features.
 */
public final class ChatPlanner implements InputPlanner<InputSpec.Chat> {
    private final Vocabulary vocabulary;
    private final int maxPromptTokens;

    public ChatPlanner(Vocabulary vocabulary, int maxPromptTokens) {
        this.vocabulary = vocabulary;
        this.maxPromptTokens = maxPromptTokens;
    }

    @Override
    public TokenFeatures features(InputSpec.Chat c) {
        LlamaTokenizer tok = vocabulary.tokenizer("input.messages");
        ChatTemplate template = tok.chatTemplate().orElseThrow(() -> RequestException.invalid("input.type", "the model"
                + " directory " + vocabulary.llama().directory() + " has no chat template (tokenizer_config.json"
                + " chat_template)"));
        List<ChatTemplate.Message> messages = c.messages().stream()
                .map(m -> new ChatTemplate.Message(m.role(), m.content())).toList();
        ChatTemplate.Rendered rendered;
        try {
            rendered = template.render(messages, c.addGenerationPromptOrDefault(), c.dateString());
        } catch (IllegalArgumentException e) {
            throw RequestException.invalid("input.messages", e.getMessage());
        }
        Vocabulary.checkLength(rendered.text(), tok, "input.messages", "the conversation", maxPromptTokens,
                "--max-prompt-tokens");
        LlamaTokenizer.Tokens tokens = tok.encodePlain(rendered.text());
        List<int[]> groups = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            int[] span = rendered.contentSpans()[i];
            List<Integer> inside = new ArrayList<>();
            for (int p = 0; span != null && p < tokens.size(); p++) {
                int[] s = tokens.spans()[p];
                if (s[0] >= span[0] && s[1] <= span[1] && s[1] > s[0]) {
                    inside.add(p);
                }
            }
            if (c.featuresOrDefault() == InputSpec.ChatFeatures.MESSAGES) {
                if (!inside.isEmpty()) {
                    groups.add(inside.stream().mapToInt(Integer::intValue).toArray());
                    texts.add(messages.get(i).role() + ": " + rendered.text().substring(span[0], span[1]));
                }
            } else {
                for (int p : inside) {
                    groups.add(new int[] {p});
                    texts.add(tok.tokenText(tokens.ids()[p]));
                }
            }
        }
        long baseline = vocabulary.checkTokenId(c.baselineTokenIdOrDefault(), "input.baseline_token_id");
        return new TokenFeatures(tokens.ids(), groups.toArray(int[][]::new), texts, baseline);
    }
}
