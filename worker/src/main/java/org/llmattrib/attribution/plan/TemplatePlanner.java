package org.llmattrib.attribution.plan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.attribution.input.Baselines;
import org.llmattrib.attribution.input.Templates;
import org.llmattrib.attribution.input.TextFeatures;
import org.llmattrib.protocol.InputSpec;
import org.llmattrib.protocol.Protocol;

/**
 * Template slots as features (Captum's TextTemplateInput): the values fill the slots in order or by
 * name; baselines (fixed, per value, or Captum's ProductBaselines) and the mask are checked
 * against the values and resolved to one entry per value, in value order.
 */
public final class TemplatePlanner implements InputPlanner<InputSpec.Template> {
    private final Vocabulary vocabulary;

    public TemplatePlanner(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
    }

    @Override
    public TextFeatures features(InputSpec.Template t) {
        List<String> slots = Templates.slots(t.template());
        List<String> names = t.values().names();
        List<String> values = t.values().texts();
        if (t.values().named()) {
            for (String slot : slots) {
                if (slot.isEmpty()) {
                    throw RequestException.invalid("input.template", "mixes {} with named slots; with values as an"
                            + " object every slot needs a name");
                }
                if (!names.contains(slot)) {
                    throw RequestException.invalid("input.values", "template slot {" + slot + "} has no value");
                }
            }
            for (String name : names) {
                if (!slots.contains(name)) {   // a feature that changes nothing: surely a mistake
                    throw RequestException.invalid("input.values." + name, "value '" + name
                            + "' fills no slot of the template; its slots are " + slots);
                }
            }
        } else if (slots.stream().anyMatch(s -> !s.isEmpty())) {
            throw RequestException.invalid("input.values", "the template's slots are named " + slots
                    + ": give the values as an object by name; a list fills {} slots in order");
        } else if (slots.size() != values.size()) {
            throw RequestException.invalid("input.values", "the template has " + slots.size() + " {} slots but "
                    + values.size() + " values are given");
        }
        return new TextFeatures(values, baselines(t.baselines(), names, values.size()), mask(t.mask(), names,
                values.size()), Templates.renderer(t.template(), names),
                text -> vocabulary.tokenizer("input").encodePrompt(text).ids());
    }

    private static Baselines baselines(InputSpec.Baselines given, List<String> names, int count) {
        if (given == null) {
            return new Baselines.Fixed(Collections.nCopies(count, ""));
        }
        if (given instanceof InputSpec.Baselines.Fixed f) {
            return new Baselines.Fixed(perValue(f.values(), null, names, count, "input.baselines"));
        }
        if (given instanceof InputSpec.Baselines.PerValue p) {
            return new Baselines.Fixed(perValue(null, p.values(), names, count, "input.baselines"));
        }
        List<Baselines.Product.Group> groups = new ArrayList<>();
        Set<Integer> covered = new TreeSet<>();
        for (Map.Entry<String, List<InputSpec.Baselines.Alternative>> e
                : ((InputSpec.Baselines.Product) given).product().entrySet()) {
            String field = "input.baselines.product." + e.getKey();
            String[] keys = e.getKey().split(",");
            int[] indices = new int[keys.length];
            for (int k = 0; k < keys.length; k++) {
                indices[k] = indexOf(keys[k].trim(), names, count, field);
                if (!covered.add(indices[k])) {
                    throw RequestException.invalid(field, "value '" + keys[k].trim() + "' is in two groups of"
                            + " product baselines; each value belongs to one");
                }
            }
            List<List<String>> alternatives = new ArrayList<>();
            for (InputSpec.Baselines.Alternative alt : e.getValue()) {
                if (alt.values().size() != keys.length) {
                    throw RequestException.invalid(field, "alternative " + Protocol.toJson(alt) + " has "
                            + alt.values().size() + " values for " + keys.length + " keys");
                }
                alternatives.add(alt.values());
            }
            groups.add(new Baselines.Product.Group(indices, alternatives));
        }
        if (covered.size() != count) {
            throw RequestException.invalid("input.baselines.product", "every value needs baseline alternatives;"
                    + " covered are " + covered.stream().map(i -> names.isEmpty() ? "#" + i : names.get(i)).toList());
        }
        return new Baselines.Product(count, groups);
    }

    /** The feature of each value: features are numbered by sorted distinct mask id, as Captum's set() of small ints orders them. */
    private static int[] mask(InputSpec.Mask given, List<String> names, int count) {
        if (given == null) {
            return IntStream.range(0, count).toArray();
        }
        List<Long> ids = given instanceof InputSpec.Mask.InOrder list
                ? perValue(list.ids(), null, names, count, "input.mask")
                : perValue(null, ((InputSpec.Mask.PerValue) given).ids(), names, count, "input.mask");
        List<Long> distinct = new ArrayList<>(new TreeSet<>(ids));
        return ids.stream().mapToInt(distinct::indexOf).toArray();
    }

    /** One entry per value, from a list (in order) or an object (by value name); exactly one of them is given. */
    private static <T> List<T> perValue(List<T> inOrder, Map<String, T> byName, List<String> names, int count,
            String field) {
        if (inOrder != null) {
            if (inOrder.size() != count) {
                throw RequestException.invalid(field, "has " + inOrder.size() + " entries for " + count + " values");
            }
            return inOrder;
        }
        if (names.isEmpty()) {
            throw RequestException.invalid(field, "must be a list when the values are a list");
        }
        for (String key : byName.keySet()) {
            if (!names.contains(key)) {
                throw RequestException.invalid(field + "." + key, "names '" + key
                        + "', which is not a value; values are " + names);
            }
        }
        List<T> out = new ArrayList<>();
        for (String name : names) {
            if (!byName.containsKey(name)) {
                throw RequestException.invalid(field, "has no entry for value '" + name + "'");
            }
            out.add(byName.get(name));
        }
        return out;
    }

    private static int indexOf(String key, List<String> names, int count, String field) {
        if (!names.isEmpty()) {
            int i = names.indexOf(key);
            if (i < 0) {
                throw RequestException.invalid(field, "'" + key + "' is not a value; values are " + names);
            }
            return i;
        }
        try {
            int i = Integer.parseInt(key);
            if (i >= 0 && i < count) {
                return i;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw RequestException.invalid(field, "with values as a list, product keys are value positions 0.." + (count - 1));
    }
}
