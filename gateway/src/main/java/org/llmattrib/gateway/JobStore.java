package org.llmattrib.gateway;

import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The jobs the gateway knows: those seen on the results topic and those posted to it. It holds the
 * newest {@code maxJobs} (by the time of their first event) with every event, so every replica,
 * whatever order it reads the partitions in, ends up holding the same jobs. A job enters through its
 * first event (seq 0) or a POST; the later events of a forgotten job do not bring part of it back.
 * Not thread-safe: the gateway touches it on its event loop only.
 */
final class JobStore {
    private static final Comparator<Job> NEWEST_FIRST = Comparator.comparing(Job::created).reversed()
            .thenComparing(Job::id);

    private final int maxJobs;
    private final GatewayMetrics metrics;
    private final Map<String, Job> jobs = new HashMap<>();
    /** Jobs created at or before this have been forgotten, or would have been. */
    private Instant forgottenUpTo = Instant.MIN;

    JobStore(int maxJobs, GatewayMetrics metrics) {
        this.maxJobs = maxJobs;
        this.metrics = metrics;
    }

    Job get(String id) {
        return jobs.get(id);
    }

    /** An event from the results topic, with its record's time. */
    void add(String jobId, Instant recordTime, StoredEvent event) {
        Job job = jobs.get(jobId);
        if (job == null) {
            if (event.seq() != 0 || !recordTime.isAfter(forgottenUpTo)) {
                metrics.notHeld();
                return;
            }
            job = new Job(jobId, recordTime);
            jobs.put(jobId, job);
            evict();
        }
        if (job.add(event)) {
            metrics.eventReceived();
        } else {
            metrics.duplicateReceived();
        }
    }

    /** A job posted through this gateway: queued until a worker's first event arrives. */
    Job submitted(String jobId) {
        Job job = jobs.computeIfAbsent(jobId, id -> new Job(id, Instant.now()));
        evict();
        return job;
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

    private void evict() {
        while (jobs.size() > maxJobs) {
            Job oldest = jobs.values().stream().max(NEWEST_FIRST).orElseThrow();
            jobs.remove(oldest.id());
            if (oldest.created().isAfter(forgottenUpTo)) {
                forgottenUpTo = oldest.created();
            }
        }
    }
}
