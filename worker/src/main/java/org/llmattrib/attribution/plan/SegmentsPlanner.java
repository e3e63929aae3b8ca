package org.llmattrib.attribution.plan;

import java.util.List;
import java.util.stream.IntStream;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.attribution.input.Baselines;
import org.llmattrib.attribution.input.TextFeatures;
import org.llmattrib.protocol.InputSpec;

/** Few-shot segments as features, each replaced by its baseline (default "") when absent. */
public final class SegmentsPlanner implements InputPlanner<InputSpec.Segments> {
    private final Vocabulary vocabulary;

    public SegmentsPlanner(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
    }

    @Override
    public TextFeatures features(InputSpec.Segments s) {
        List<String> baselines = s.baselinesOrDefault();
        if (baselines.size() != s.segments().size()) {
            throw RequestException.invalid("input.baselines", "has " + baselines.size() + " entries for "
                    + s.segments().size() + " segments");
        }
        int[] identity = IntStream.range(0, s.segments().size()).toArray();
        return new TextFeatures(s.segments(), new Baselines.Fixed(baselines), identity, s::render,
                text -> vocabulary.tokenizer("input").encodePrompt(text).ids());
    }
}
