package org.llmattrib.protocol;

/**
 * A message that does not follow the protocol.
 *
 * @see #code() malformed_json, unsupported_schema or invalid_request
 */
public class ProtocolException extends RuntimeException {
    private final ErrorCode code;
    private final String field;
    private final String jobId;

    public ProtocolException(ErrorCode code, String field, String jobId, String message) {
        super(message);
        this.code = code;
        this.field = field;
        this.jobId = Protocol.isJobId(jobId) ? jobId : null;
    }

    public ErrorCode code() {
        return code;
    }

    /** JSON path of the offending field (like "method.n_steps"), or null. */
    public String field() {
        return field;
    }

    /**
     * The job id when it could be read from the message and is a valid one (a {@code failed} event
     * is published under it), else null: an id too long or with other characters gets no event,
     * only the dead-letter copy, whose headers say why.
     */
    public String jobId() {
        return jobId;
    }
}
