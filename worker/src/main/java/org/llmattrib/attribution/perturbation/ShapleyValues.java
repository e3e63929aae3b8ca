package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.protocol.ErrorCode;

/**
 * Exact Shapley values over all 2^n coalitions:
 * attr_i = sum over S without i of |S|!(n-|S|-1)!/n! * (f(S + i) - f(S)).
 */
public final class ShapleyValues implements PerturbationMethod {
    private final int maxFeatures;

    public ShapleyValues(int maxFeatures) {
        this.maxFeatures = maxFeatures;
    }

    @Override
    public void check(int n) {
        if (n > maxFeatures) {
            throw new RequestException(ErrorCode.TOO_MANY_FEATURES, "method.max_features", "exact Shapley values need 2^"
                    + n + " forwards for " + n + " features, above method.max_features = " + maxFeatures
                    + "; group features with a mask, raise max_features, or use shapley_value_sampling");
        }
    }

    @Override
    public long coalitionCount(int n) {
        return 1L << n;
    }

    @Override
    public Plan plan(int n, Random random) {
        check(n);
        List<boolean[]> coalitions = new ArrayList<>(1 << n);
        for (int bits = 0; bits < (1 << n); bits++) {
            boolean[] m = new boolean[n];
            for (int i = 0; i < n; i++) {
                m[i] = (bits >> i & 1) == 1;
            }
            coalitions.add(m);
        }
        double[] weightBySize = new double[n];
        for (int s = 0; s < n; s++) {
            weightBySize[s] = 1.0 / (n * binomial(n - 1, s));
        }
        return new Plan(coalitions, y -> {
            double[] attr = new double[n];
            for (int bits = 0; bits < (1 << n); bits++) {
                int size = Integer.bitCount(bits);
                for (int i = 0; i < n; i++) {
                    if ((bits >> i & 1) == 0) {
                        attr[i] += weightBySize[size] * (y[bits | (1 << i)] - y[bits]);
                    }
                }
            }
            return attr;
        });
    }

    private static double binomial(int n, int k) {
        double r = 1;
        for (int i = 1; i <= k; i++) {
            r = r * (n - k + i) / i;
        }
        return r;
    }
}
