package org.llmattrib.attribution.perturbation;

import java.util.Random;

/**
 * Captum's Lime defaults: each feature present with probability 1/2; weight exp(-d^2 / width^2)
 * with d the cosine distance to the all-present input (width 1); Lasso with alpha 0.01
 * (scikit-learn's objective).
 */
public final class Lime extends LinearSurrogate {

    public Lime(int samples) {
        super(samples);
    }

    @Override
    protected boolean[] sample(int i, int n, Random random) {
        boolean[] m = new boolean[n];
        for (int f = 0; f < n; f++) {
            m[f] = random.nextBoolean();
        }
        return m;
    }

    @Override
    protected double weight(boolean[] coalition) {
        double cosine = count(coalition) == 0 ? 0 : Math.sqrt(count(coalition) / (double) coalition.length);
        double d = 1 - cosine;
        return Math.exp(-d * d);
    }

    @Override
    protected double[] fit(double[][] x, double[] y, double[] w) {
        return LinearModels.lasso(x, y, w, 0.01);
    }
}
