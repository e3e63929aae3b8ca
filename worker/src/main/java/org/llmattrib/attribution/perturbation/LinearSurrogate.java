package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Captum's LimeBase: sample coalitions, weigh each by its similarity to the full input, fit a
 * weighted linear model of the output on the presence indicators; its coefficients are the
 * attributions. {@link KernelShap} and {@link Lime} differ only in sampler, weights and fitter.
 */
public abstract class LinearSurrogate implements PerturbationMethod {
    private final int samples;

    protected LinearSurrogate(int samples) {
        this.samples = samples;
    }

    /** The {@code i}-th coalition of a trial over {@code features} features. */
    protected abstract boolean[] sample(int i, int features, Random random);

    /** The sample weight of a coalition. */
    protected abstract double weight(boolean[] coalition);

    /** Coefficients (no intercept returned) of y ~ c + X b with sample weights w. */
    protected abstract double[] fit(double[][] x, double[] y, double[] w);

    protected static int count(boolean[] m) {
        int c = 0;
        for (boolean b : m) {
            c += b ? 1 : 0;
        }
        return c;
    }

    @Override
    public long coalitionCount(int features) {
        return samples;
    }

    @Override
    public final Plan plan(int n, Random random) {
        List<boolean[]> coalitions = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            coalitions.add(sample(i, n, random));
        }
        double[][] x = new double[samples][n];
        double[] w = new double[samples];
        for (int i = 0; i < samples; i++) {
            for (int f = 0; f < n; f++) {
                x[i][f] = coalitions.get(i)[f] ? 1 : 0;
            }
            w[i] = weight(coalitions.get(i));
        }
        return new Plan(coalitions, y -> fit(x, y, w));
    }
}
