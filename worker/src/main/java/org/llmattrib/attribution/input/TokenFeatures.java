package org.llmattrib.attribution.input;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Each prompt token is a feature (Captum's TextTokenInput), except skipped tokens (BOS by
 * default), which stay as they are. An absent token is replaced by the baseline token id.
 */
public final class TokenFeatures implements PromptFeatures {
    private final long[] ids;
    private final int[] positions;
    private final List<String> texts;
    private final long baselineId;

    public TokenFeatures(long[] ids, String[] tokenTexts, Set<Long> skipIds, long baselineId) {
        this.ids = ids.clone();
        this.positions = IntStream.range(0, ids.length).filter(i -> !skipIds.contains(ids[i])).toArray();
        List<String> t = new ArrayList<>();
        for (int p : positions) {
            t.add(tokenTexts[p]);
        }
        this.texts = List.copyOf(t);
        this.baselineId = baselineId;
    }

    /** Prompt positions of the features, in order. */
    public int[] positions() {
        return positions.clone();
    }

    @Override
    public int featureCount() {
        return positions.length;
    }

    @Override
    public List<String> valueTexts() {
        return texts;
    }

    @Override
    public int[] featureOfValue() {
        return IntStream.range(0, positions.length).toArray();
    }

    @Override
    public long[] fullPrompt() {
        return ids.clone();
    }

    @Override
    public long[] render(boolean[] present, Random random) {
        long[] out = ids.clone();
        for (int f = 0; f < positions.length; f++) {
            if (!present[f]) {
                out[positions[f]] = baselineId;
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "TokenFeatures" + Arrays.toString(ids);
    }
}
