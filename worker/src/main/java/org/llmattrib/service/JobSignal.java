package org.llmattrib.service;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What a queue and the job thread running one of its records share. The job asks
 * {@link #abandoned()} at every checkpoint (between model steps), which is also its sign of life;
 * the queue abandons the job when the record is no longer its to settle, and gives the record up
 * when the job has shown no sign of life for longer than the stall timeout (a hung thread must not
 * hold a request, or a worker that cannot work look healthy).
 */
final class JobSignal {
    private final AtomicBoolean abandoned = new AtomicBoolean();
    private volatile long lastSignNanos = System.nanoTime();

    /** Asked by the job between steps: true once it must stop and publish nothing more. */
    boolean abandoned() {
        lastSignNanos = System.nanoTime();
        return abandoned.get();
    }

    void abandon() {
        abandoned.set(true);
    }

    /** Whether the job has not asked {@link #abandoned()} for longer than {@code limit}. */
    boolean silentFor(Duration limit) {
        return System.nanoTime() - lastSignNanos > limit.toNanos();
    }

    /** Ends a queue's poll loop: a job thread showed no sign of life for longer than the stall timeout. */
    static final class Stalled extends IllegalStateException {
        Stalled(String record, Duration limit) {
            super("the job of " + record + " showed no sign of life for more than " + limit.toSeconds()
                    + " s (--stall-timeout): its request was given back for another worker, and this worker"
                    + " takes no more jobs until it is restarted");
        }
    }
}
