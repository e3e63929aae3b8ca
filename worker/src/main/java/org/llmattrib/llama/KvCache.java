package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.function.Function;
import java.util.function.LongFunction;

/**
 * Keys and values (after RoPE, before the grouped-query repeat) of every position seen so far, per
 * layer, with which of those positions are real tokens (not padding).
 */
public final class KvCache {
    final NDArray[] keys;
    final NDArray[] values;
    /** [B, S] boolean: which cached positions are tokens. */
    NDArray keyMask;
    /** [B, 1] int64: tokens seen so far per row, i.e. the RoPE position of the next token. */
    NDArray tokensSeen;

    public KvCache(int layers) {
        keys = new NDArray[layers];
        values = new NDArray[layers];
    }

    /** Appends this step's keys and values of one layer; returns all keys. Old arrays are freed now, not at request end. */
    NDArray append(int layer, NDArray k, NDArray v) {
        if (keys[layer] != null) {
            k = keys[layer].concat(k, 2);
            v = values[layer].concat(v, 2);
        }
        put(layer, k, v);
        return k;
    }

    /** Sets one layer's keys and values (all positions); the old arrays are freed now. */
    void put(int layer, NDArray k, NDArray v) {
        keys[layer] = swap(keys[layer], k);
        values[layer] = swap(values[layer], v);
    }

    void advance(NDArray newKeyMask, NDArray newTokensSeen) {
        if (keyMask != null) {
            keyMask.close();
            tokensSeen.close();
        }
        keyMask = newKeyMask;
        tokensSeen = newTokensSeen;
    }

    public long length() {
        return keyMask == null ? 0 : keyMask.getShape().get(1);
    }

    public long batchSize() {
        return keyMask.getShape().get(0);
    }

    /** This cache (of batch 1) repeated to {@code rows} rows, e.g. a shared prompt prefix for a batch. */
    public KvCache repeatRows(long rows) {
        if (batchSize() != 1) {
            throw new IllegalStateException("only a batch-1 cache can be repeated, this one has " + batchSize());
        }
        KvCache c = new KvCache(keys.length);
        for (int i = 0; i < keys.length; i++) {
            c.keys[i] = keys[i].repeat(0, rows);
            c.values[i] = values[i].repeat(0, rows);
        }
        c.keyMask = keyMask.repeat(0, rows);
        c.tokensSeen = tokensSeen.repeat(0, rows);
        return c;
    }

    /**
     * The caches of several requests stacked along rows (in order), each left-padded to the longest
     * with zero keys and values at positions that are not tokens, so that one forward can extend them
     * all; {@link #part} takes each back. The new arrays belong to {@code m}; an empty cache of
     * {@code rows[i]} rows pads to all-padding.
     */
    static KvCache pack(List<KvCache> caches, long[] rows, NDManager m) {
        int layers = caches.get(0).keys.length;
        KvCache packed = new KvCache(layers);
        long length = caches.stream().mapToLong(KvCache::length).max().orElseThrow();
        if (length == 0) {
            return packed;
        }
        Shape kv = caches.stream().filter(c -> c.length() > 0).findFirst().orElseThrow().keys[0].getShape();
        LongFunction<Shape> kvShape = r -> new Shape(r, kv.get(1), length, kv.get(3));
        for (int l = 0; l < layers; l++) {
            int layer = l;
            packed.keys[l] = stack(caches, rows, c -> c.keys[layer], kvShape, 2, m);
            packed.values[l] = stack(caches, rows, c -> c.values[layer], kvShape, 2, m);
        }
        packed.keyMask = stack(caches, rows, c -> c.keyMask, r -> new Shape(r, length), 1, m);
        packed.tokensSeen = stack(caches, rows, c -> c.tokensSeen, r -> new Shape(r, 1), 1, m);
        packed.attach(m);
        return packed;
    }

    /**
     * Each cache's array (nothing when the cache is empty) left-padded with zeros along {@code axis}
     * to {@code shape} of its rows, concatenated along rows.
     */
    private static NDArray stack(List<KvCache> caches, long[] rows, Function<KvCache, NDArray> array,
            LongFunction<Shape> shape, int axis, NDManager m) {
        NDList parts = new NDList();
        NDArray like = array.apply(caches.stream().filter(c -> c.length() > 0).findFirst().orElseThrow());
        DataType dtype = null; // asked once, when a part needs padding
        for (int i = 0; i < caches.size(); i++) {
            Shape full = shape.apply(rows[i]);
            NDArray a = caches.get(i).length() == 0 ? null : array.apply(caches.get(i));
            long missing = full.get(axis) - (a == null ? 0 : a.getShape().get(axis));
            if (missing == 0) {
                parts.add(a);
                continue;
            }
            long[] padShape = full.getShape();
            padShape[axis] = missing;
            // DJL reads bfloat16 as UNKNOWN and aborts on zeros(BFLOAT16): float zeros are made in float32 and cast
            dtype = dtype == null ? Kernels.typeOf(like) : dtype;
            NDArray pad = dtype.isFloating() ? Kernels.cast(m.zeros(new Shape(padShape), DataType.FLOAT32), dtype)
                    : m.zeros(new Shape(padShape), dtype);
            parts.add(a == null ? pad : pad.concat(a, axis));
        }
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
    }

    /**
     * Rows {@code [from, to)} of a cache that {@link #pack} built and a forward extended: the positions
     * {@code [start, oldEnd)} and {@code [newStart, length)}, i.e. one request's own cache
     * without the padding that packing added before its old and its new positions.
     */
    KvCache part(long from, long to, long start, long oldEnd, long newStart) {
        KvCache c = new KvCache(keys.length);
        for (int l = 0; l < keys.length; l++) {
            c.keys[l] = positions(keys[l], 2, from, to, start, oldEnd, newStart);
            c.values[l] = positions(values[l], 2, from, to, start, oldEnd, newStart);
        }
        c.keyMask = positions(keyMask, 1, from, to, start, oldEnd, newStart);
        c.tokensSeen = tokensSeen.get(new NDIndex().addSliceDim(from, to));
        return c;
    }

    private static NDArray positions(NDArray a, int axis, long from, long to, long start, long oldEnd, long newStart) {
        long length = a.getShape().get(axis);
        if (newStart == oldEnd) {
            return slice(a, axis, from, to, start, length);
        }
        return slice(a, axis, from, to, start, oldEnd).concat(slice(a, axis, from, to, newStart, length), axis);
    }

    private static NDArray slice(NDArray a, int axis, long from, long to, long start, long end) {
        if (from == 0 && to == a.getShape().get(0) && start == 0 && end == a.getShape().get(axis)) {
            return a;
        }
        NDIndex index = new NDIndex().addSliceDim(from, to);
        for (int i = 1; i < axis; i++) {
            index.addAllDim();
        }
        return a.get(index.addSliceDim(start, end));
    }

    /** Takes over the arrays of {@code other}, freeing its own now (as {@link #append} does) unless shared. */
    void replaceWith(KvCache other) {
        for (int l = 0; l < keys.length; l++) {
            keys[l] = swap(keys[l], other.keys[l]);
            values[l] = swap(values[l], other.values[l]);
        }
        keyMask = swap(keyMask, other.keyMask);
        tokensSeen = swap(tokensSeen, other.tokensSeen);
    }

    private static NDArray swap(NDArray old, NDArray now) {
        if (old != null && old != now) {
            old.close();
        }
        return now;
    }

    /**
     * Moves the cached arrays to {@code manager}, so that a step's scratch manager can be closed. An
     * empty cache (no position seen yet, e.g. perturbed prompts with no shared prefix) has nothing to move.
     */
    public void attach(ai.djl.ndarray.NDManager manager) {
        if (keyMask == null) {
            return;
        }
        for (int i = 0; i < keys.length; i++) {
            keys[i].attach(manager);
            values[i].attach(manager);
        }
        keyMask.attach(manager);
        tokensSeen.attach(manager);
    }
}
