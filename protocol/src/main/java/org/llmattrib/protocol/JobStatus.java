package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What the workers know about a job id (schema {@code attribution-job/v1}, compacted topic
 * {@code attribution.jobs}, key = job id): the hash of the request that owns the id, the record it
 * came from ({@code topic/partition@offset}) and where it stands. Written when a job starts and when
 * it ends; every worker follows the topic, so a second request with the same id is recognised
 * whichever worker gets it.
 */
public record JobStatus(String schema, String jobId, String requestHash, String source, String worker, State state) {
    public static final String SCHEMA = "attribution-job/v1";

    public enum State {
        @JsonProperty("running") RUNNING,
        @JsonProperty("completed") COMPLETED,
        @JsonProperty("failed") FAILED
    }

    public static JobStatus of(String jobId, String requestHash, String source, String worker, State state) {
        return new JobStatus(SCHEMA, jobId, requestHash, source, worker, state);
    }

    /**
     * What is known of a job id after reading {@code next} when {@code known} was known (null: none):
     * a claim ({@code running}) from another request record while the id is running or completed
     * loses and changes nothing; anything else is the new status.
     */
    public static JobStatus fold(JobStatus known, JobStatus next) {
        boolean losingClaim = next.state() == State.RUNNING && known != null && known.state() != State.FAILED
                && !known.source().equals(next.source());
        return losingClaim ? known : next;
    }

    /**
     * The identity of a request's content, {@code request_hash}: SHA-256 of its canonical JSON (the
     * decoded request, encoded again), so whitespace and formatting do not matter.
     */
    public static String requestHash(AttributionRequest request) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Protocol.encode(request)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
