package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Shapley values estimated from {@code samples} random feature orders: each feature gets the mean
 * change of the output when it joins the features before it. Coalitions shared by several orders
 * (always the empty and the full one) are evaluated once.
 */
public final class ShapleyValueSampling implements PerturbationMethod {
    private final int samples;

    public ShapleyValueSampling(int samples) {
        this.samples = samples;
    }

    /** The empty and the full coalition are shared by every order; each order adds n - 1 prefixes. */
    @Override
    public long coalitionCount(int n) {
        return (long) samples * Math.max(n - 1, 0) + 2;
    }

    @Override
    public Plan plan(int n, Random random) {
        Map<String, Integer> index = new LinkedHashMap<>();
        List<boolean[]> coalitions = new ArrayList<>();
        int[][] orders = new int[samples][];
        int[][] prefixIndex = new int[samples][n + 1];
        for (int s = 0; s < samples; s++) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                order.add(i);
            }
            Collections.shuffle(order, random);
            orders[s] = order.stream().mapToInt(Integer::intValue).toArray();
            boolean[] m = new boolean[n];
            for (int k = 0; k <= n; k++) {
                if (k > 0) {
                    m[orders[s][k - 1]] = true;
                }
                boolean[] copy = m.clone();
                prefixIndex[s][k] = index.computeIfAbsent(java.util.Arrays.toString(copy), key -> {
                    coalitions.add(copy);
                    return coalitions.size() - 1;
                });
            }
        }
        return new Plan(coalitions, y -> {
            double[] attr = new double[n];
            for (int s = 0; s < samples; s++) {
                for (int k = 0; k < n; k++) {
                    attr[orders[s][k]] += (y[prefixIndex[s][k + 1]] - y[prefixIndex[s][k]]) / samples;
                }
            }
            return attr;
        });
    }
}
