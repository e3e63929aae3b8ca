package org.llmattrib.gateway;

import java.time.Instant;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The jobs the gateway knows: those seen on the results topic and those posted to it, the newest
 * {@code maxJobs} with every event (the oldest is forgotten first). Not thread-safe: the gateway
 * touches it on its event loop only.
 */
final class JobStore {
    private final int maxJobs;
    private final GatewayMetrics metrics;
    private final LinkedHashMap<String, Job> jobs = new LinkedHashMap<>();

    JobStore(int maxJobs, GatewayMetrics metrics) {
        this.maxJobs = maxJobs;
        this.metrics = metrics;
    }

    Job get(String id) {
        return jobs.get(id);
    }

    /** The job of an event from the results topic, created at the record's time when new. */
    void add(String jobId, Instant recordTime, StoredEvent event) {
        Job job = jobs.computeIfAbsent(jobId, id -> new Job(id, recordTime));
        if (job.add(event)) {
            metrics.eventReceived();
        } else {
            metrics.duplicateReceived();
        }
        evict();
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
        return jobs.values().stream().sorted(Comparator.comparing(Job::created).reversed()).limit(limit)
                .map(Job::summary).toList();
    }

    int size() {
        return jobs.size();
    }

    private void evict() {
        Iterator<Job> oldest = jobs.values().iterator();
        while (jobs.size() > maxJobs) {
            oldest.next();
            oldest.remove();
        }
    }
}
