package org.llmattrib.attribution.gradient;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Gradient SHAP (Captum's LayerGradientShap) with the baseline activation as its one reference:
 * n samples at uniformly random points of the path, the end activation optionally noised
 * (stdevs), averaged. Completeness holds in expectation only.
 */
public final class LayerGradientShap implements GradientMethod {
    private final int samples;
    private final double stdevs;

    public LayerGradientShap(int samples, double stdevs) {
        this.samples = samples;
        this.stdevs = stdevs;
    }

    @Override
    public boolean startsAtBaseline() {
        return true;
    }

    @Override
    public List<PathSample> samples(Random random) {
        List<PathSample> out = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            out.add(new PathSample(random.nextDouble(), 1.0 / samples, stdevs));
        }
        return out;
    }

    @Override
    public int sampleCount() {
        return samples;
    }

    @Override
    public boolean hasCompleteness() {
        return true;
    }
}
