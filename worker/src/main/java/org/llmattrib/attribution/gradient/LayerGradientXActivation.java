package org.llmattrib.attribution.gradient;

import java.util.List;
import java.util.Random;

/** activation * gradient at the actual activation: the path from zero, sampled at its end only. */
public final class LayerGradientXActivation implements GradientMethod {
    @Override
    public boolean startsAtBaseline() {
        return false;
    }

    @Override
    public List<PathSample> samples(Random random) {
        return List.of(new PathSample(1.0, 1.0, 0));
    }

    @Override
    public int sampleCount() {
        return 1;
    }

    @Override
    public boolean hasCompleteness() {
        return false;
    }
}
