package org.llmattrib.attribution.plan;

import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaTokenizer;

/** The loaded model's tokenizer and vocabulary as a request meets them: every refusal names the request field. */
public final class Vocabulary {
    private final Llama llama;

    public Vocabulary(Llama llama) {
        this.llama = llama;
    }

    Llama llama() {
        return llama;
    }

    /** The model's tokenizer, needed to read {@code field}'s text. */
    public LlamaTokenizer tokenizer(String field) {
        return llama.tokenizer().orElseThrow(() -> RequestException.invalid(field, "the model directory "
                + llama.directory() + " has no tokenizer.json, so text cannot be tokenized; give target_ids and"
                + " a model with a tokenizer"));
    }

    /** Refuses an id outside the vocabulary before it reaches the native embedding lookup. */
    public long checkTokenId(long id, String field) {
        int vocabulary = llama.model().config().vocabSize();
        if (id < 0 || id >= vocabulary) {
            throw RequestException.invalid(field, "token id " + id + " is outside the vocabulary [0, " + vocabulary
                    + ") of this model");
        }
        return id;
    }

    /** Refuses a text too long for {@code limit} tokens before tokenizing it (40,000 tokens take a second). */
    public static void checkLength(String text, LlamaTokenizer tok, String field, String what, int limit, String flag) {
        if (text.length() > (long) limit * tok.maxTokenChars()) {
            throw Limits.exceeded(field, what + " has " + text.length() + " characters, more than " + limit + " tokens"
                    + " of at most " + tok.maxTokenChars() + " characters each can hold; this worker's limit is " + limit
                    + " tokens (" + flag + ")");
        }
    }
}
