package org.llmattrib.service;

/**
 * Where a worker takes its requests from ({@link QueueMode}): one {@link QueueLoop} with its
 * settlement policy, {@link JobConsumer} (a consumer group) or {@link ShareJobConsumer} (a share
 * group), or a {@link QueuePool} of share consumers (one job each). Either runs one record at a time
 * and settles it by how its handler ended; the worker's health is theirs.
 */
interface JobQueue extends AutoCloseable {
    /** Starts polling on its own thread. */
    void start();

    /** False once the poll loop has died of an error (restart the worker); a closed queue is still "alive". */
    boolean alive();

    /** A member of its group that takes new jobs. */
    boolean ready();

    /**
     * Stops taking new jobs, lets the running one finish within the drain timeout (then abandons it
     * for another worker), settles what finished and leaves the group.
     */
    @Override
    void close();
}
