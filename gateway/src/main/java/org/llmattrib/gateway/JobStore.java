package org.llmattrib.gateway;

import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.llmattrib.protocol.JobStatus;

/**
 * The jobs the gateway knows: those seen on the results topic and those posted to it. It holds the
 * newest {@code maxJobs} (by the time of their first event) with their events (up to the byte
 * limits), so every replica,
 * whatever order it reads the partitions in, ends up holding the same jobs. A job enters through its
 * first event (seq 0) or a POST; the later events of a forgotten job do not bring part of it back.
 * Not thread-safe: the gateway touches it on its event loop only.
 */
final class JobStore {
    private static final Comparator<Job> NEWEST_FIRST = Comparator.comparing(Job::created).reversed()
            .thenComparing(Job::id);

    private final int maxJobs;
    private final EventLimits limits;
    private final GatewayMetrics metrics;
    /** The bytes of the events of all jobs held. */
    private long held;
    private final Map<String, Job> jobs = new HashMap<>();
    /** The workers' record of each job id's owner ({@code attribution.jobs}), the most recently written ones. */
    private final Map<String, JobStatus> owners;
    /** Jobs created at or before this have been forgotten, or would have been. */
    private Instant forgottenUpTo = Instant.MIN;

    JobStore(int maxJobs, EventLimits limits, GatewayMetrics metrics) {
        this.maxJobs = maxJobs;
        this.owners = new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, JobStatus> eldest) {
                return size() > 4 * maxJobs;
            }
        };
        this.limits = limits;
        this.metrics = metrics;
    }

    Job get(String id) {
        return jobs.get(id);
    }

    /** An event from the results topic, with its record's time. */
    void add(String jobId, Instant recordTime, StoredEvent event) {
        Job job = jobs.get(jobId);
        if (job != null && job.status().reusable() && event.seq() == 0) {
            // a failed or cancelled job id used again: a new run
            jobs.remove(jobId);
            held -= job.bytes();
            job = null;
        }
        if (job == null) {
            if (event.seq() != 0 || !recordTime.isAfter(forgottenUpTo)) {
                metrics.notHeld();
                return;
            }
            job = new Job(jobId, recordTime, limits.maxJobBytes(), null);
            jobs.put(jobId, job);
        }
        long before = job.bytes();
        switch (job.add(event)) {
            case ADDED -> metrics.eventReceived();
            case DUPLICATE -> metrics.duplicateReceived();
            case TRUNCATED -> metrics.truncated();
        }
        held += job.bytes() - before;
        evict();
    }

    /**
     * A job posted through this gateway, with its request's hash: queued until a worker's first event
     * arrives. It replaces a failed or cancelled job of that id.
     */
    Job submitted(String jobId, String requestHash) {
        Job job = new Job(jobId, Instant.now(), limits.maxJobBytes(), requestHash);
        Job replaced = jobs.put(jobId, job);
        if (replaced != null) {
            held -= replaced.bytes();
        }
        evict();
        return job;
    }

    /** A record of {@code attribution.jobs}, folded as the workers fold it. */
    void owner(JobStatus status) {
        JobStatus known = owners.remove(status.jobId());
        owners.put(status.jobId(), JobStatus.fold(known, status));
    }

    /**
     * The hash of the request that owns {@code job}'s id: the workers' record (unless failed: the id
     * was free again), else the one posted here; null when neither is known.
     */
    String ownerHash(Job job) {
        JobStatus owner = owners.get(job.id());
        return owner != null && owner.state() != JobStatus.State.FAILED ? owner.requestHash() : job.requestHash();
    }

    /** Forgets a posted job that could not be sent (it has no events). */
    void forget(Job job) {
        if (!job.hasEvents()) {
            jobs.remove(job.id(), job);
        }
    }

    /** The newest {@code limit} jobs, newest first. */
    List<JobSummary> newest(int limit) {
        return jobs.values().stream().sorted(NEWEST_FIRST).limit(limit).map(Job::summary).toList();
    }

    int size() {
        return jobs.size();
    }

    /** Forgets the oldest jobs while there are more than {@code maxJobs}, or their events are too many bytes. */
    private void evict() {
        while (jobs.size() > maxJobs || held > limits.maxHeldBytes() && jobs.size() > 1) {
            Job oldest = jobs.values().stream().max(NEWEST_FIRST).orElseThrow();
            jobs.remove(oldest.id());
            held -= oldest.bytes();
            if (oldest.created().isAfter(forgottenUpTo)) {
                forgottenUpTo = oldest.created();
            }
        }
    }
}
