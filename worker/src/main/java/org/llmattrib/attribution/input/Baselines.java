package org.llmattrib.attribution.input;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Baseline values of text features: fixed strings, or Captum's ProductBaselines, a Cartesian
 * product of alternatives per key (or per tuple of keys drawn together), sampled anew for every
 * perturbed prompt as Captum does.
 */
public sealed interface Baselines {

    /** One baseline string per value. */
    List<String> draw(Random random);

    record Fixed(List<String> values) implements Baselines {
        @Override
        public List<String> draw(Random random) {
            return values;
        }
    }

    /**
     * @param groups each group: the value indices it sets, and its alternatives (one string per index)
     */
    record Product(int valueCount, List<Group> groups) implements Baselines {
        public record Group(int[] valueIndices, List<List<String>> alternatives) {}

        @Override
        public List<String> draw(Random random) {
            List<String> out = new ArrayList<>(java.util.Collections.nCopies(valueCount, ""));
            for (Group g : groups) {
                List<String> pick = g.alternatives().get(random.nextInt(g.alternatives().size()));
                for (int i = 0; i < g.valueIndices().length; i++) {
                    out.set(g.valueIndices()[i], pick.get(i));
                }
            }
            return out;
        }
    }
}
