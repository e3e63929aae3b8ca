package org.llmattrib.service;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
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
 *
 * <p>Claims are ordered by the topic: a worker about to run a job writes its {@code running} status
 * and waits until it has read the topic up to that record; the first claim of a job id that is not
 * failed owns it, and any later claim from another record loses (the topic has one partition, so
 * every worker folds the same claims in the same order). A loser that carries the same request is a
 * no-op; a different request fails with {@code duplicate_job_id} before it streams anything.
 */
final class JobRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobRegistry.class);

    /** What to do with a request record. */
    enum Decision {
        /** This record owns the job id: new, failed before, or the redelivery of a record whose job never ended. */
        RUN,
        /** The same request is running or completed, or this very record was answered already: nothing to do. */
        ANSWERED,
        /** Another request owns the job id (running or completed): refuse with {@code duplicate_job_id}. */
        DUPLICATE,
        /** The claim could not be written or read back in time (Kafka away): deliver the record again later. */
        UNDECIDED
    }

    private final Map<String, JobStatus> jobs = new ConcurrentHashMap<>();
    /** Next offset to fold, per partition of the jobs topic; guarded by {@code this}. */
    private final Map<Integer, Long> folded = new HashMap<>();
    private final TopicFollower follower;
    private final Producer<String, byte[]> producer;
    private final String worker;
    private final Duration claimTimeout;

    /** @param claimTimeout how long a claim may take to be written and read back */
    JobRegistry(Properties kafka, Producer<String, byte[]> producer, String worker, Duration claimTimeout) {
        this.follower = new TopicFollower(kafka, Protocol.JOBS_TOPIC, records -> records.forEach(this::onRecord));
        this.producer = producer;
        this.worker = worker;
        this.claimTimeout = claimTimeout;
    }

    JobRegistry start(Duration timeout) {
        follower.startAndWait(Instant.EPOCH, timeout);
        return this;
    }

    /**
     * What to do with a record. Unless the job id is settled already, claims it for this record: the
     * claim ({@code running}) is written, read back, and {@link Decision#RUN} only if it is the first.
     *
     * @param source the record, {@code topic/partition@offset}
     */
    Decision decide(String jobId, String requestHash, String source) {
        Decision known = decision(jobs.get(jobId), requestHash, source);
        if (known != Decision.RUN) {
            return known;
        }
        JobStatus claim = JobStatus.of(jobId, requestHash, source, worker, JobStatus.State.RUNNING);
        try {
            RecordMetadata written = producer.send(new ProducerRecord<>(Protocol.JOBS_TOPIC, jobId, Protocol.encode(claim)))
                    .get(claimTimeout.toMillis(), TimeUnit.MILLISECONDS);
            awaitFolded(written.partition(), written.offset());
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("could not claim {} for {} within {}: {}", jobId, source, claimTimeout, e.toString());
            return Decision.UNDECIDED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Decision.UNDECIDED;
        }
        JobStatus owner = jobs.get(jobId);
        return owner.source().equals(source) ? Decision.RUN : decision(owner, requestHash, source);
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

    /** Records how the job this worker owns ended, here at once and, for every worker, on the jobs topic. */
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

    /** Folds one record ({@link JobStatus#fold}: a claim after another record's live claim or completion loses). */
    private void onRecord(ConsumerRecord<String, byte[]> r) {
        try {
            if (r.value() == null) {
                jobs.remove(r.key());
                return;
            }
            JobStatus status = Protocol.decodeJobStatus(r.value());
            jobs.put(status.jobId(), JobStatus.fold(jobs.get(status.jobId()), status));
        } catch (ProtocolException e) {
            LOG.warn("ignoring bad job status at {}/{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        } finally {
            synchronized (this) {
                folded.put(r.partition(), r.offset() + 1);
                notifyAll();
            }
        }
    }

    /** Waits until the follower has folded the record at {@code offset}. */
    private synchronized void awaitFolded(int partition, long offset) throws InterruptedException, TimeoutException {
        long until = System.nanoTime() + claimTimeout.toNanos();
        while (folded.getOrDefault(partition, 0L) <= offset) {
            long left = until - System.nanoTime();
            if (left <= 0 || !follower.alive()) {
                throw new TimeoutException("the jobs topic was not read up to offset " + offset);
            }
            TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
        }
    }

    @Override
    public void close() {
        follower.close();
    }
}
