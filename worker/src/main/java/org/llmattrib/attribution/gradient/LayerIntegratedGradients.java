package org.llmattrib.attribution.gradient;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Integrated gradients along the straight line from the baseline activation, by a quadrature rule. */
public final class LayerIntegratedGradients implements GradientMethod {
    private final IntegrationRule rule;
    private final int steps;

    public LayerIntegratedGradients(IntegrationRule rule, int steps) {
        this.rule = rule;
        this.steps = steps;
    }

    @Override
    public boolean startsAtBaseline() {
        return true;
    }

    @Override
    public List<PathSample> samples(Random random) {
        double[][] nodes = rule.nodesAndWeights(steps);
        List<PathSample> out = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            out.add(new PathSample(nodes[0][i], nodes[1][i], 0));
        }
        return out;
    }

    @Override
    public int sampleCount() {
        return steps;
    }

    @Override
    public boolean hasCompleteness() {
        return true;
    }
}
