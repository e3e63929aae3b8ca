package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Optional;

/**
 * Why a job failed or a request was refused: the {@code code} of a {@code failed} event, of a
 * dead-lettered request's {@code error.code} header and of the gateway's 400 answer to an invalid
 * request, each with what a client should do about it ({@link #action()}). On the wire a code is
 * its {@link #wire()} name; a client meeting a name it does not know (from a newer worker) should
 * treat it as {@link Action#GIVE_UP}, which is why {@link AttributionEvent.Failed#code()} stays a
 * string.
 */
public enum ErrorCode {
    /** The bytes are not a JSON object (a tombstone, not UTF-8, nested too deeply, truncated). */
    MALFORMED_JSON("malformed_json", Action.FIX_REQUEST),
    /** The request's {@code schema} is missing or not one this worker speaks. */
    UNSUPPORTED_SCHEMA("unsupported_schema", Action.FIX_REQUEST),
    /** The request breaks the schema or cannot run as asked; {@code field} names the field. */
    INVALID_REQUEST("invalid_request", Action.FIX_REQUEST),
    UNKNOWN_METHOD("unknown_method", Action.FIX_REQUEST),
    /** A layer name or glob matches no tap of the model; the message lists the valid ones. */
    UNKNOWN_LAYER("unknown_layer", Action.FIX_REQUEST),
    /** More features than the method's {@code max_features}. */
    TOO_MANY_FEATURES("too_many_features", Action.FIX_REQUEST),
    /** Valid, but asks more than this worker allows (the message names the limit and its flag): ask less. */
    LIMIT_EXCEEDED("limit_exceeded", Action.FIX_REQUEST),
    /** The job id belongs to a different request that is running or completed: choose a new job id. */
    DUPLICATE_JOB_ID("duplicate_job_id", Action.FIX_REQUEST),
    /** Stopped by a cancel control message, as the client asked. */
    CANCELLED("cancelled", Action.GIVE_UP),
    /** The job passed its {@code deadline}: send it again (the id may be reused) with a later one. */
    DEADLINE_EXCEEDED("deadline_exceeded", Action.RETRY),
    /** Every run of the request killed, stalled or lost its worker; running it again would do the same. */
    TOO_MANY_ATTEMPTS("too_many_attempts", Action.GIVE_UP),
    /** The job broke the worker's code or memory: a bug to report, not retried. */
    INTERNAL("internal", Action.GIVE_UP);

    /** What a client should do about a code. */
    public enum Action {
        /** Send the same request again later (a new job id is not needed). */
        RETRY,
        /** The request itself is at fault: change it (see {@code field} and the message) before sending it again. */
        FIX_REQUEST,
        /** Sending it again will not help. */
        GIVE_UP
    }

    private final String wire;
    private final Action action;

    ErrorCode(String wire, Action action) {
        this.wire = wire;
        this.action = action;
    }

    /** The name on the wire, e.g. {@code invalid_request}. */
    @JsonValue
    public String wire() {
        return wire;
    }

    public Action action() {
        return action;
    }

    /** The code of a wire name; empty for a name this client does not know. */
    public static Optional<ErrorCode> of(String wire) {
        return Arrays.stream(values()).filter(c -> c.wire.equals(wire)).findFirst();
    }

    @Override
    public String toString() {
        return wire;
    }
}
