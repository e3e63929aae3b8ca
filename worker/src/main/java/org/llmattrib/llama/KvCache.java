package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;

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
            NDArray oldK = keys[layer];
            NDArray oldV = values[layer];
            k = oldK.concat(k, 2);
            v = oldV.concat(v, 2);
            oldK.close();
            oldV.close();
        }
        keys[layer] = k;
        values[layer] = v;
        return k;
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
