package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.ToDoubleFunction;

/**
 * Captum's Lime family: sample coalitions, weigh each by its similarity to the full input, fit a
 * weighted linear model of the output on the presence indicators; its coefficients are the
 * attributions. KernelShap and Lime differ only in sampler, weights and fitter.
 */
public final class LinearSurrogate implements PerturbationMethod {

    /** Draws the {@code i}-th coalition of a trial. */
    public interface Sampler {
        boolean[] sample(int i, int features, Random random);
    }

    /** Fits coefficients (no intercept returned) of y ~ c + X b with sample weights. */
    public interface Fitter {
        double[] fit(double[][] x, double[] y, double[] w);
    }

    private final int samples;
    private final Sampler sampler;
    private final ToDoubleFunction<boolean[]> weight;
    private final Fitter fitter;

    public LinearSurrogate(int samples, Sampler sampler, ToDoubleFunction<boolean[]> weight, Fitter fitter) {
        this.samples = samples;
        this.sampler = sampler;
        this.weight = weight;
        this.fitter = fitter;
    }

    /**
     * Captum's KernelShap: the full and the empty coalition first (weight 1e6, which pins the
     * efficiency constraint), then coalitions whose size k is drawn with probability proportional to
     * (n-1)/(k(n-k)), weight 1; ordinary least squares.
     */
    public static LinearSurrogate kernelShap(int samples) {
        Sampler sampler = (i, n, random) -> {
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
            java.util.Collections.shuffle(order, random);
            boolean[] m = new boolean[n];
            for (int f = 0; f < k; f++) {
                m[order.get(f)] = true;
            }
            return m;
        };
        ToDoubleFunction<boolean[]> weight = m -> {
            int on = count(m);
            return on == 0 || on == m.length ? 1e6 : 1.0;
        };
        return new LinearSurrogate(samples, sampler, weight, LinearModels::leastSquares);
    }

    /**
     * Captum's Lime defaults: each feature present with probability 1/2; weight
     * exp(-d^2 / width^2) with d the cosine distance to the all-present input (width 1); Lasso with
     * alpha 0.01 (scikit-learn's objective).
     */
    public static LinearSurrogate lime(int samples) {
        Sampler sampler = (i, n, random) -> {
            boolean[] m = new boolean[n];
            for (int f = 0; f < n; f++) {
                m[f] = random.nextBoolean();
            }
            return m;
        };
        ToDoubleFunction<boolean[]> weight = m -> {
            double cosine = count(m) == 0 ? 0 : Math.sqrt(count(m) / (double) m.length);
            double d = 1 - cosine;
            return Math.exp(-d * d);
        };
        return new LinearSurrogate(samples, sampler, weight, (x, y, w) -> LinearModels.lasso(x, y, w, 0.01));
    }

    private static int count(boolean[] m) {
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
    public Plan plan(int n, Random random) {
        List<boolean[]> coalitions = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            coalitions.add(sampler.sample(i, n, random));
        }
        double[][] x = new double[samples][n];
        double[] w = new double[samples];
        for (int i = 0; i < samples; i++) {
            for (int f = 0; f < n; f++) {
                x[i][f] = coalitions.get(i)[f] ? 1 : 0;
            }
            w[i] = weight.applyAsDouble(coalitions.get(i));
        }
        return new Plan(coalitions, y -> fitter.fit(x, y, w));
    }
}
