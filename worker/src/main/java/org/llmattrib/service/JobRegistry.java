package org.llmattrib.service;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.llmattrib.protocol.TopicFollower;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which request owns each job id, across all workers: every worker follows the compacted topic
 * {@code attribution.jobs} (job id to {@link JobStatus}) from its beginning and writes a job's status
 * when it starts and when it ends. The rules are in protocol/README.md ("Job identity").
 */
final class JobRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobRegistry.class);

    /** What to do with a request record. */
    enum Decision {
        /** New job id, a job id whose job failed, or the redelivery of a record whose job never ended. */
        RUN,
        /** The same request is running or completed, or this very record was answered already: nothing to do. */
        ANSWERED,
        /** Another request owns the job id (running or completed): refuse with {@code duplicate_job_id}. */
        DUPLICATE
    }

    private final Map<String, JobStatus> jobs = new ConcurrentHashMap<>();
    private final TopicFollower follower;
    private final Producer<String, byte[]> producer;
    private final String worker;

    JobRegistry(Properties kafka, Producer<String, byte[]> producer, String worker) {
        this.follower = new TopicFollower(kafka, Protocol.JOBS_TOPIC, records -> records.forEach(this::onRecord));
        this.producer = producer;
        this.worker = worker;
    }

    JobRegistry start(Duration timeout) {
        follower.startAndWait(Instant.EPOCH, timeout);
        return this;
    }

    /**
     * What to do with a record; a {@link Decision#RUN} claims the job id on this worker at once (as
     * running, published by {@link #record}), so that a record of the same job id decided meanwhile
     * by another job thread of this worker ({@code --concurrency}) sees it running.
     *
     * @param source the record, {@code topic/partition@offset}
     */
    synchronized Decision decide(String jobId, String requestHash, String source) {
        Decision decision = decision(jobs.get(jobId), requestHash, source);
        if (decision == Decision.RUN) {
            jobs.put(jobId, JobStatus.of(jobId, requestHash, source, worker, JobStatus.State.RUNNING));
        }
        return decision;
    }

    private static Decision decision(JobStatus known, String requestHash, String source) {
        if (known == null) {
            return Decision.RUN;
        }
        if (known.source().equals(source)) {
            return known.state() == JobStatus.State.RUNNING ? Decision.RUN : Decision.ANSWERED;
        }
        if (known.state() == JobStatus.State.FAILED) {
            return Decision.RUN;
        }
        return known.requestHash().equals(requestHash) ? Decision.ANSWERED : Decision.DUPLICATE;
    }

    /** Records a job's state here at once and, for every worker, on the jobs topic. */
    void record(String jobId, String requestHash, String source, JobStatus.State state) {
        JobStatus status = JobStatus.of(jobId, requestHash, source, worker, state);
        jobs.put(jobId, status);
        producer.send(new ProducerRecord<>(Protocol.JOBS_TOPIC, jobId, Protocol.encode(status)), (metadata, error) -> {
            if (error != null) {
                LOG.warn("could not record {} as {}: {}", jobId, state, error.toString());
            }
        });
    }

    boolean alive() {
        return follower.alive();
    }

    private void onRecord(ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) {
            jobs.remove(r.key());
            return;
        }
        try {
            JobStatus status = Protocol.decodeJobStatus(r.value());
            jobs.put(status.jobId(), status);
        } catch (ProtocolException e) {
            LOG.warn("ignoring bad job status at {}/{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    @Override
    public void close() {
        follower.close();
    }
}
