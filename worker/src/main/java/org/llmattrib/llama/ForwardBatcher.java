package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Packs the cached forward steps of concurrent jobs into one forward of the model. A step is
 * {@code rows} rows of {@code width} new tokens (mask 0: padding, any side, as {@link
 * LlamaModel#forward}) after its own {@link KvCache}; what comes back is log p(.) at each row's last
 * position, and the cache extended as that forward alone would have extended it.
 *
 * <p>Jobs that score take part through a {@link Lane}. When the device is free, a waiting step runs
 * the pending ones, after waiting up to {@link #WINDOW_NANOS} for every other lane to have a step
 * pending too (a lane alone never waits): the oldest step and every other one that does not make
 * the forward more than {@link #MAX_PADDING} times its steps' own tokens (so a prompt step and
 * next-token steps run apart), the others right after. The packed forward left-pads each step's new
 * tokens to the widest and its cache to the longest (zero keys and values, key mask false), stacks
 * them along rows, runs once, and hands every step its rows of the log-probabilities and its cache
 * without the padding. Padding is masked out of attention and RoPE positions count tokens only, so a
 * packed step equals the step run alone up to the summation order of the matrix products.
 */
public final class ForwardBatcher {
    /** How long a free device waits for the other lanes' steps before it runs what it has. */
    static final long WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    /** A packed forward computes at most this many times its steps' own tokens (the rest is padding). */
    static final int MAX_PADDING = 2;

    /**
     * One step: {@code ids} and {@code mask} are [rows, width] row-major; the cache's arrays end up
     * attached to {@code cacheManager}, the log-probabilities [rows, vocab] to {@code out}.
     */
    public record Step(long[] ids, long[] mask, int rows, int width, KvCache cache, NDManager cacheManager,
            NDManager out) {}

    /**
     * Steps run so far, the forwards they ran in ({@code steps / forwards} steps per forward) and the
     * time spent in those forwards, packing and unpacking included.
     */
    public record Packing(long steps, long forwards, long forwardNanos) {}

    private static final class Pending {
        final Step step;
        NDArray logProbs;
        RuntimeException failure;
        boolean done;

        Pending(Step step) {
            this.step = step;
        }
    }

    private final LlamaModel model;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<Pending> pending = new ArrayList<>();
    private int lanes;
    private boolean busy;
    private long steps;
    private long forwards;
    private long forwardNanos;

    public ForwardBatcher(LlamaModel model) {
        this.model = model;
    }

    public LlamaModel model() {
        return model;
    }

    public Packing packing() {
        lock.lock();
        try {
            return new Packing(steps, forwards, forwardNanos);
        } finally {
            lock.unlock();
        }
    }

    /** A job's way in, for as long as it scores; close it when done, so that the others stop waiting for it. */
    public Lane lane() {
        lock.lock();
        try {
            lanes++;
            return new Lane();
        } finally {
            lock.unlock();
        }
    }

    /** A job that sends steps; its steps block until their packed forward has run. */
    public final class Lane implements AutoCloseable {
        private Lane() {}

        /** Runs the step, packed with those of other lanes: log p(.) at each row's last position, [rows, vocab]. */
        public NDArray forward(Step step) {
            Pending mine = new Pending(step);
            boolean interrupted = false;
            lock.lock();
            try {
                pending.add(mine);
                changed.signalAll();
                long waitUntil = System.nanoTime() + WINDOW_NANOS;
                while (!mine.done) {
                    if (busy || pending.size() < lanes && System.nanoTime() < waitUntil) {
                        interrupted |= await(busy ? Long.MAX_VALUE : waitUntil - System.nanoTime());
                    } else {
                        run(takePack());
                    }
                }
            } finally {
                lock.unlock();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (mine.failure != null) {
                throw mine.failure;
            }
            return mine.logProbs;
        }

        @Override
        public void close() {
            lock.lock();
            try {
                lanes--;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Waits for a change; true when interrupted (kept for later: a step once queued must be answered). */
    private boolean await(long nanos) {
        try {
            changed.awaitNanos(nanos);
            return false;
        } catch (InterruptedException e) {
            return true;
        }
    }

    /**
     * The pending steps, oldest first, that one forward runs without padding more than {@link
     * #MAX_PADDING} of its tokens: steps of very different widths (a prompt and a next token, say)
     * go in different forwards. The oldest step always goes.
     */
    private List<Pending> takePack() {
        List<Pending> pack = new ArrayList<>();
        long rows = 0;
        long tokens = 0;
        int width = 0;
        for (Pending p : pending) {
            Step s = p.step;
            int w = Math.max(width, s.width());
            if (pack.isEmpty() || (rows + s.rows()) * w <= MAX_PADDING * (tokens + (long) s.rows() * s.width())) {
                pack.add(p);
                rows += s.rows();
                tokens += (long) s.rows() * s.width();
                width = w;
            }
        }
        pending.removeAll(pack);
        return pack;
    }

    /**
     * With the lock held: runs one packed forward without it and hands every step its share; a
     * failure fails every step of the pack.
     */
    private void run(List<Pending> pack) {
        busy = true;
        RuntimeException failure = null;
        lock.unlock();
        long start = System.nanoTime();
        try (NDManager scratch = model.manager().newSubManager()) {
            List<NDArray> logProbs = forward(pack.stream().map(p -> p.step).toList(), scratch);
            for (int i = 0; i < pack.size(); i++) {
                pack.get(i).logProbs = logProbs.get(i);
            }
        } catch (RuntimeException e) {
            failure = e;
        } catch (Error e) {
            // out of memory, say: every job of the pack fails, none waits for ever
            failure = new IllegalStateException("the packed forward failed: " + e, e);
        } finally {
            lock.lock();
            forwardNanos += System.nanoTime() - start;
        }
        for (Pending p : pack) {
            p.failure = failure;
            p.done = true;
        }
        busy = false;
        steps += pack.size();
        forwards++;
        changed.signalAll();
    }

    /** The packed forward of {@code steps}: each step's log-probabilities, its cache extended; the rest in {@code scratch}. */
    List<NDArray> forward(List<Step> steps, NDManager scratch) {
        int width = steps.stream().mapToInt(Step::width).max().orElseThrow();
        long[] rows = steps.stream().mapToLong(Step::rows).toArray();
        int total = (int) Arrays.stream(rows).sum();
        long[] ids = new long[total * width];
        long[] mask = new long[total * width];
        int row = 0;
        for (Step s : steps) {
            int pad = width - s.width();
            for (int r = 0; r < s.rows(); r++, row++) {
                System.arraycopy(s.ids(), r * s.width(), ids, row * width + pad, s.width());
                System.arraycopy(s.mask(), r * s.width(), mask, row * width + pad, s.width());
            }
        }
        List<KvCache> caches = steps.stream().map(Step::cache).toList();
        long[] lengths = caches.stream().mapToLong(KvCache::length).toArray();
        long oldLength = Arrays.stream(lengths).max().orElseThrow();
        KvCache packed = KvCache.pack(caches, rows, scratch);
        NDArray hidden = model.forward(scratch.create(ids).reshape(total, width),
                scratch.create(mask).reshape(total, width), Taps.NONE, packed);
        long[] last = new long[total];
        for (int r = 0; r < total; r++) {
            last[r] = (long) r * width + width - 1;
        }
        NDArray logProbs = model.logSoftmaxAt(hidden, last);
        packed.attach(scratch);
        List<NDArray> out = new ArrayList<>();
        long from = 0;
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            long to = from + s.rows();
            long newStart = oldLength + width - s.width();
            s.cache().replaceWith(packed.part(from, to, oldLength - lengths[i], oldLength, newStart));
            s.cache().attach(s.cacheManager());
            NDArray mine = logProbs.get(new NDIndex().addSliceDim(from, to));
            mine.attach(s.out());
            out.add(mine);
            from = to;
        }
        return out;
    }
}
