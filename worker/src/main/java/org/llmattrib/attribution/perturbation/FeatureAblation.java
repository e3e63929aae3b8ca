package org.llmattrib.attribution.perturbation;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** attr_i = f(all present) - f(all present but i). */
public final class FeatureAblation implements PerturbationMethod {
    @Override
    public long coalitionCount(int features) {
        return features + 1L;
    }

    @Override
    public Plan plan(int features, Random random) {
        List<boolean[]> coalitions = new ArrayList<>();
        coalitions.add(PerturbationMethod.all(features, true));
        for (int i = 0; i < features; i++) {
            boolean[] m = PerturbationMethod.all(features, true);
            m[i] = false;
            coalitions.add(m);
        }
        return new Plan(coalitions, y -> {
            double[] attr = new double[features];
            for (int i = 0; i < features; i++) {
                attr[i] = y[0] - y[i + 1];
            }
            return attr;
        });
    }
}
