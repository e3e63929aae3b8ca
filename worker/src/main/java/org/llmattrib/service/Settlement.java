package org.llmattrib.service;

/** How a request record ended on this worker, i.e. how its queue settles it with the broker. */
public enum Settlement {
    /** Completed, its final event acknowledged: share mode ACCEPTs it, group mode commits it. */
    COMPLETED,
    /**
     * Answered with a {@code failed} event that was acknowledged (a request that can never succeed,
     * cancelled, past its deadline, out of attempts): share mode REJECTs it, group mode commits it.
     */
    FAILED,
    /**
     * Not finished here (abandoned at shutdown, or its final event was not acknowledged): share mode
     * RELEASEs it for another delivery, group mode seeks back to it.
     */
    RETRY;

    /** True when the record must not run again. */
    public boolean done() {
        return this != RETRY;
    }
}
