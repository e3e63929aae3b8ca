package org.llmattrib.gateway;

/**
 * How many bytes of events (their JSON as published) the gateway holds.
 *
 * @param maxJobBytes a job's events beyond this are dropped (its terminal event is kept): the job says
 *     it is {@code truncated}, and its whole record is on the results topic
 * @param maxHeldBytes beyond this for all jobs together, the oldest jobs are forgotten (the newest is kept)
 */
public record EventLimits(long maxJobBytes, long maxHeldBytes) {
    public static final EventLimits DEFAULT = new EventLimits(16L << 20, 256L << 20);

    public EventLimits {
        if (maxJobBytes < 1 || maxHeldBytes < 1) {
            throw new IllegalArgumentException("the event byte limits must be positive");
        }
    }
}
