package org.llmattrib.attribution.plan;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.protocol.InputSpec;

/** Every prompt token a feature, except the skipped ones (Captum's TextTokenInput). */
public final class TokensPlanner implements InputPlanner<InputSpec.Tokens> {
    private final Vocabulary vocabulary;
    private final int maxPromptTokens;

    public TokensPlanner(Vocabulary vocabulary, int maxPromptTokens) {
        this.vocabulary = vocabulary;
        this.maxPromptTokens = maxPromptTokens;
    }

    @Override
    public TokenFeatures features(InputSpec.Tokens t) {
        LlamaTokenizer tok = vocabulary.tokenizer("input.text");
        Vocabulary.checkLength(t.text(), tok, "input", "the prompt", maxPromptTokens, "--max-prompt-tokens");
        LlamaTokenizer.Tokens prompt = tok.encodePrompt(t.text());
        Set<Long> skip = t.skipTokens() == null ? Set.of((long) vocabulary.llama().model().config().bosTokenId())
                : skipIds(t.skipTokens(), tok);
        String[] texts = Arrays.stream(prompt.ids()).mapToObj(tok::tokenText).toArray(String[]::new);
        long baseline = vocabulary.checkTokenId(t.baselineTokenIdOrDefault(), "input.baseline_token_id");
        return new TokenFeatures(prompt.ids(), texts, skip, baseline);
    }

    private Set<Long> skipIds(List<InputSpec.SkipToken> skipTokens, LlamaTokenizer tok) {
        Set<Long> skip = new HashSet<>();
        for (int i = 0; i < skipTokens.size(); i++) {
            String field = "input.skip_tokens[" + i + "]";
            if (skipTokens.get(i) instanceof InputSpec.SkipToken.Id id) {
                skip.add(vocabulary.checkTokenId(id.id(), field));
            } else {
                String text = ((InputSpec.SkipToken.Text) skipTokens.get(i)).text();
                long[] ids = tok.encodePlain(text).ids();
                if (ids.length != 1) {
                    throw RequestException.invalid(field, "'" + text + "' is not a single token of this tokenizer");
                }
                skip.add(ids[0]);
            }
        }
        return skip;
    }
}
