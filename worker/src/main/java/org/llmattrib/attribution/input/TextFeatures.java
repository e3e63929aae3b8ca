package org.llmattrib.attribution.input;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * Text segments as features (Captum's TextTemplateInput): a renderer turns the current values
 * into the prompt text, which is tokenized again for every perturbation. A mask may group values
 * into one feature; attributions are reported per value.
 */
public final class TextFeatures implements PromptFeatures {
    private final List<String> values;
    private final Baselines baselines;
    private final int[] featureOfValue;
    private final int featureCount;
    private final Function<List<String>, String> renderer;
    private final Function<String, long[]> tokenizer;

    /**
     * @param featureOfValue the feature index (0..k-1) of each value
     * @param renderer the prompt text for a list of values (absent ones already replaced)
     * @param tokenizer prompt text to ids (BOS included)
     */
    public TextFeatures(List<String> values, Baselines baselines, int[] featureOfValue,
            Function<List<String>, String> renderer, Function<String, long[]> tokenizer) {
        this.values = List.copyOf(values);
        this.baselines = baselines;
        this.featureOfValue = featureOfValue.clone();
        this.featureCount = java.util.Arrays.stream(featureOfValue).max().orElse(-1) + 1;
        this.renderer = renderer;
        this.tokenizer = tokenizer;
    }

    /** The prompt text with the given present features. */
    public String text(boolean[] present, Random random) {
        List<String> current = new ArrayList<>(values);
        List<String> drawn = null;
        for (int i = 0; i < values.size(); i++) {
            if (!present[featureOfValue[i]]) {
                if (drawn == null) {
                    drawn = baselines.draw(random);
                }
                current.set(i, drawn.get(i));
            }
        }
        return renderer.apply(current);
    }

    @Override
    public int featureCount() {
        return featureCount;
    }

    @Override
    public List<String> valueTexts() {
        return values;
    }

    @Override
    public int[] featureOfValue() {
        return featureOfValue.clone();
    }

    @Override
    public long[] fullPrompt() {
        return tokenizer.apply(renderer.apply(values));
    }

    @Override
    public long[] render(boolean[] present, Random random) {
        return tokenizer.apply(text(present, random));
    }
}
