package org.llmattrib.attribution.gradient;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Random;
import org.llmattrib.attribution.JobListener;

/**
 * Integrated gradients along the straight line from the baseline activation, by a quadrature rule,
 * with a fixed number of steps, or (beyond Captum) steps by accuracy: doubled per target token
 * until every path's |delta| is within {@code tolerance} x |f(input) - f(baseline)|.
 */
public final class LayerIntegratedGradients implements GradientMethod {
    private final IntegrationRule rule;
    private final int steps;
    private final double tolerance;
    private final int maxSteps;

    /** A fixed number of steps. */
    public LayerIntegratedGradients(IntegrationRule rule, int steps) {
        this(rule, steps, 0, steps);
    }

    /**
     * @param steps the first number of steps
     * @param tolerance the accepted |delta| relative to |f(input) - f(baseline)|; 0: steps are fixed
     * @param maxSteps doubling stops here, converged or not (the check reports what remains)
     */
    public LayerIntegratedGradients(IntegrationRule rule, int steps, double tolerance, int maxSteps) {
        this.rule = rule;
        this.steps = steps;
        this.tolerance = tolerance;
        this.maxSteps = maxSteps;
    }

    /** An absolute floor below which a path counts as converged whatever its f(input) - f(baseline). */
    private static final double ABSOLUTE_FLOOR = 1e-7;

    @Override
    public boolean startsAtBaseline() {
        return true;
    }

    @Override
    public List<PathSample> samples(Random random) {
        return path(steps);
    }

    private List<PathSample> path(int n) {
        double[][] nodes = rule.nodesAndWeights(n);
        List<PathSample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new PathSample(nodes[0][i], nodes[1][i], 0));
        }
        return out;
    }

    @Override
    public List<PathSample> refine(List<PathSample> previous, Collection<JobListener.IgCheck> checks) {
        boolean converged = checks.stream().allMatch(c -> Math.abs(c.delta())
                <= tolerance * Math.abs(c.fInput() - c.fBaseline()) + ABSOLUTE_FLOOR);
        return tolerance == 0 || converged || previous.size() * 2 > maxSteps ? null : path(previous.size() * 2);
    }

    /** The most samples a token may take: the fixed steps, or every doubling up to the cap. */
    @Override
    public int sampleCount() {
        return tolerance == 0 ? steps : 2 * maxSteps;
    }

    @Override
    public boolean hasCompleteness() {
        return true;
    }
}
