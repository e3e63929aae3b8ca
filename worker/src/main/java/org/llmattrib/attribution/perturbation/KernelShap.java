package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Captum's KernelShap: the full and the empty coalition first (weight 1e6, which pins the
 * efficiency constraint), then coalitions whose size k is drawn with probability proportional to
 * (n-1)/(k(n-k)), weight 1; ordinary least squares.
 */
public final class KernelShap extends LinearSurrogate {

    public KernelShap(int samples) {
        super(samples);
    }

    @Override
    protected boolean[] sample(int i, int n, Random random) {
        if (i < 2) {
            return PerturbationMethod.all(n, i == 0);
        }
        double[] p = new double[n];
        double total = 0;
        for (int k = 1; k < n; k++) {
            p[k] = (n - 1.0) / (k * (double) (n - k));
            total += p[k];
        }
        double u = random.nextDouble() * total;
        int k = 1;
        while (k < n - 1 && (u -= p[k]) > 0) {
            k++;
        }
        List<Integer> order = new ArrayList<>();
        for (int f = 0; f < n; f++) {
            order.add(f);
        }
        Collections.shuffle(order, random);
        boolean[] m = new boolean[n];
        for (int f = 0; f < k; f++) {
            m[order.get(f)] = true;
        }
        return m;
    }

    @Override
    protected double weight(boolean[] coalition) {
        int on = count(coalition);
        return on == 0 || on == coalition.length ? 1e6 : 1.0;
    }

    @Override
    protected double[] fit(double[][] x, double[] y, double[] w) {
        return LinearModels.leastSquares(x, y, w);
    }
}
