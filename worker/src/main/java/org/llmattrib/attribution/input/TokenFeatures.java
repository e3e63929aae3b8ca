package org.llmattrib.attribution.input;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Prompt tokens as features (Captum's TextTokenInput): each feature is a group of prompt positions
 * (one token, or e.g. all content tokens of a chat message); an absent feature has each of its
 * tokens replaced by the baseline token id. Tokens in no group stay as they are.
 */
public final class TokenFeatures implements PromptFeatures {
    private final long[] ids;
    private final int[][] groups;
    private final List<String> texts;
    private final long baselineId;

    /** Every token its own feature, except skipped tokens (BOS by default in requests), which stay as they are. */
    public TokenFeatures(long[] ids, String[] tokenTexts, Set<Long> skipIds, long baselineId) {
        this(ids, IntStream.range(0, ids.length).filter(i -> !skipIds.contains(ids[i])).mapToObj(i -> new int[] {i})
                .toArray(int[][]::new), texts(tokenTexts, ids, skipIds), baselineId);
    }

    /**
     * @param groups prompt positions of each feature, in order
     * @param texts the text reported for each feature
     */
    public TokenFeatures(long[] ids, int[][] groups, List<String> texts, long baselineId) {
        if (groups.length != texts.size()) {
            throw new IllegalArgumentException(groups.length + " features but " + texts.size() + " texts");
        }
        this.ids = ids.clone();
        this.groups = groups.clone();
        this.texts = List.copyOf(texts);
        this.baselineId = baselineId;
    }

    private static List<String> texts(String[] tokenTexts, long[] ids, Set<Long> skipIds) {
        List<String> t = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            if (!skipIds.contains(ids[i])) {
                t.add(tokenTexts[i]);
            }
        }
        return t;
    }

    /** Prompt positions of each feature, in order. */
    public int[][] positionGroups() {
        return Arrays.stream(groups).map(int[]::clone).toArray(int[][]::new);
    }

    @Override
    public int featureCount() {
        return groups.length;
    }

    @Override
    public List<String> valueTexts() {
        return texts;
    }

    @Override
    public int[] featureOfValue() {
        return IntStream.range(0, groups.length).toArray();
    }

    @Override
    public long[] fullPrompt() {
        return ids.clone();
    }

    @Override
    public long[] render(boolean[] present, Random random) {
        long[] out = ids.clone();
        for (int f = 0; f < groups.length; f++) {
            if (!present[f]) {
                for (int p : groups[f]) {
                    out[p] = baselineId;
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "TokenFeatures" + Arrays.toString(ids);
    }
}
