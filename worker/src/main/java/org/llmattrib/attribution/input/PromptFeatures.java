package org.llmattrib.attribution.input;

import java.util.List;
import java.util.Random;

/**
 * The interpretable features of a prompt (Captum's InterpretableInput): which parts can be
 * present or absent, and the token ids of the prompt for any choice of present features.
 */
public interface PromptFeatures {

    /** Number of interpretable features (mask groups count once). */
    int featureCount();

    /** Text of each reported value; attributions are reported per value, as Captum does. */
    List<String> valueTexts();

    /** Interpretable feature of each reported value (identity unless a template mask groups values). */
    int[] featureOfValue();

    /** Prompt ids with every feature present. */
    long[] fullPrompt();

    /** Prompt ids with the absent features replaced by their baselines; {@code random} draws sampled baselines. */
    long[] render(boolean[] present, Random random);

    /** Per-feature attributions spread to per-value attributions. */
    default double[] toValues(double[] perFeature) {
        int[] map = featureOfValue();
        double[] out = new double[map.length];
        for (int i = 0; i < map.length; i++) {
            out[i] = perFeature[map[i]];
        }
        return out;
    }
}
