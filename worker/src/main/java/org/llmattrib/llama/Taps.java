package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one forward pass does at its named layer taps: capture a tap's output, and/or replace it
 * with a given tensor. Replacing is differentiable: if the replacing tensor requires gradient, the
 * gradient of anything computed downstream can be read from it after a backward pass.
 *
 * <p>A replacement may cover a contiguous block of batch rows only, so that one padded batch can
 * interpolate a different layer in each block (independent multi-layer integrated gradients).
 */
public final class Taps {
    /** A plain forward: no tap is touched. */
    public static final Taps NONE = new Taps(Set.of());

    private record Replacement(NDArray value, int firstRow) {}

    private final Set<String> toCapture;
    private final Map<String, Replacement> replacements = new HashMap<>();
    private final Map<String, NDArray> captured = new LinkedHashMap<>();

    private Taps(Set<String> toCapture) {
        this.toCapture = Set.copyOf(toCapture);
    }

    public static Taps capturing(Set<String> names) {
        return new Taps(names);
    }

    /** Replace the whole output of {@code name} by {@code value} (same shape). */
    public Taps replace(String name, NDArray value) {
        return replaceRows(name, value, 0);
    }

    /** Replace rows {@code firstRow .. firstRow + value.rows - 1} of the output of {@code name}. */
    public Taps replaceRows(String name, NDArray value, int firstRow) {
        if (this == NONE) {
            throw new IllegalStateException("Taps.NONE is shared; create a Taps to replace");
        }
        replacements.put(name, new Replacement(value, firstRow));
        return this;
    }

    /** Whether this captures or replaces any of {@code names}. */
    boolean touchesAny(List<String> names) {
        return this != NONE && names.stream().anyMatch(n -> toCapture.contains(n) || replacements.containsKey(n));
    }

    /** Called by the forward pass at every tap. */
    NDArray at(String name, NDArray output) {
        if (this == NONE) {
            return output;
        }
        Replacement r = replacements.get(name);
        if (r != null) {
            output = splice(output, r);
        }
        if (toCapture.contains(name)) {
            captured.put(name, output);
        }
        return output;
    }

    private static NDArray splice(NDArray output, Replacement r) {
        long rows = output.getShape().get(0);
        long n = r.value().getShape().get(0);
        if (!r.value().getShape().slice(1).equals(output.getShape().slice(1)) || r.firstRow() + n > rows) {
            throw new IllegalArgumentException("replacement of shape " + r.value().getShape() + " at row "
                    + r.firstRow() + " does not fit tap output " + output.getShape());
        }
        if (n == rows) {
            return r.value();
        }
        NDArray result = r.value();
        if (r.firstRow() > 0) {
            result = output.get("0:{}", r.firstRow()).concat(result, 0);
        }
        if (r.firstRow() + n < rows) {
            result = result.concat(output.get("{}:", r.firstRow() + n), 0);
        }
        return result;
    }

    public NDArray captured(String name) {
        NDArray a = captured.get(name);
        if (a == null) {
            throw new IllegalStateException("tap '" + name + "' was not captured");
        }
        return a;
    }
}
