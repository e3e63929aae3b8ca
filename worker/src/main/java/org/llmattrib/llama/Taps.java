package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What one forward pass does at its named layer taps: capture a tap's output, and/or replace it
 * with a given tensor. Replacing is differentiable: if the replacing tensor requires gradient, the
 * gradient of anything computed downstream can be read from it after a backward pass.
 *
 * <p>A replacement may cover a contiguous block of batch rows only, so that one batch can
 * interpolate a different layer in each block (independent multi-layer integrated gradients). The
 * replacing tensor then still has every row, and rows are selected with {@code where}: splicing
 * rows in with {@code concat} made gradients read through the spliced part occasionally wrong
 * (libtorch hands the leaf a view of the concatenation's gradient buffer).
 */
public final class Taps {
    /** A plain forward: no tap is touched. */
    public static final Taps NONE = new Taps(Set.of());

    private record Replacement(NDArray value, int firstRow, int rowCount) {}

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
        return replaceRows(name, value, 0, (int) value.getShape().get(0));
    }

    /**
     * Replace rows {@code firstRow .. firstRow + rowCount - 1} of the output of {@code name} by the
     * same rows of {@code value}, which has the output's full shape; its other rows are ignored.
     */
    public Taps replaceRows(String name, NDArray value, int firstRow, int rowCount) {
        if (this == NONE) {
            throw new IllegalStateException("Taps.NONE is shared; create a Taps to replace");
        }
        replacements.put(name, new Replacement(value, firstRow, rowCount));
        return this;
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
        if (!r.value().getShape().equals(output.getShape()) || r.firstRow() + r.rowCount() > rows) {
            throw new IllegalArgumentException("replacement of shape " + r.value().getShape() + " for rows "
                    + r.firstRow() + ".." + (r.firstRow() + r.rowCount() - 1) + " does not fit tap output "
                    + output.getShape());
        }
        if (r.firstRow() == 0 && r.rowCount() == rows) {
            return r.value();
        }
        boolean[] selected = new boolean[(int) rows];
        java.util.Arrays.fill(selected, r.firstRow(), r.firstRow() + r.rowCount(), true);
        long[] maskShape = new long[output.getShape().dimension()];
        java.util.Arrays.fill(maskShape, 1);
        maskShape[0] = rows;
        NDArray mask = output.getManager().create(selected, new ai.djl.ndarray.types.Shape(maskShape));
        return ai.djl.ndarray.NDArrays.where(mask.broadcast(output.getShape()), r.value(), output);
    }

    /** Captured outputs by tap name, in forward order. */
    public Map<String, NDArray> captured() {
        return captured;
    }

    public NDArray captured(String name) {
        NDArray a = captured.get(name);
        if (a == null) {
            throw new IllegalStateException("tap '" + name + "' was not captured");
        }
        return a;
    }
}
