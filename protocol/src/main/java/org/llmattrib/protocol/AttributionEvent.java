package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;
import java.util.Map;

/**
 * What a worker publishes about a job (schema {@code attribution-event/v1}, topic
 * {@code attribution.results}, key = job id, so one job's events stay ordered). {@code seq} counts
 * 0, 1, 2, ... within the job; consumers deduplicate on (job_id, seq), since a job rerun after a
 * worker failure publishes the same sequence again.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = AttributionEvent.Accepted.class, name = "accepted"),
    @JsonSubTypes.Type(value = AttributionEvent.Token.class, name = "token"),
    @JsonSubTypes.Type(value = AttributionEvent.Completed.class, name = "completed"),
    @JsonSubTypes.Type(value = AttributionEvent.Failed.class, name = "failed")
})
public sealed interface AttributionEvent {
    String SCHEMA = "attribution-event/v1";

    String schema();

    String jobId();

    long seq();

    /** The job started. {@code targetTokens} is null when the target is generated first. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Accepted(String schema, String jobId, long seq, String worker, String model, String method,
            List<String> features, List<String> targetTokens) implements AttributionEvent {}

    /**
     * f_input, f_baseline and the completeness error of one integrated-gradients path, and the
     * integration steps (or gradient SHAP samples) it took; nSteps is absent from older workers.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record IgCheck(double fInput, double fBaseline, double delta, Integer nSteps) {}

    /**
     * One target token's attributions, published as soon as they are final.
     *
     * @param attr one number per feature
     * @param layers per layer, one number per feature (gradient methods)
     * @param ig per layer (or "joint"), the completeness check (integrated gradients, gradient SHAP)
     * @param tensors per layer, the URI of the unreduced tensor (reduce "none")
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Token(String schema, String jobId, long seq, int index, long tokenId, String token, double logProb,
            List<Double> attr, Map<String, List<Double>> layers, Map<String, IgCheck> ig,
            Map<String, String> tensors) implements AttributionEvent {}

    /** The job's end: sequence attribution, the target, timings (ms) and work counts. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Completed(String schema, String jobId, long seq, List<Double> seqAttr, List<String> outputTokens,
            List<Long> outputTokenIds, Map<String, List<Double>> layersSeqAttr, Map<String, Double> timings,
            Map<String, Number> work) implements AttributionEvent {}

    /**
     * The job failed or was stopped; {@code field} is the JSON path of the offending request field.
     * {@code code} is an {@link ErrorCode}'s wire name, kept a string so that a client reads codes
     * newer than itself ({@link #errorCode()}).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Failed(String schema, String jobId, long seq, String code, String message, String field)
            implements AttributionEvent {
        /** The most characters of a message a worker publishes; the rest is cut, saying how much. */
        public static final int MAX_MESSAGE_CHARS = 4000;

        public Failed(String jobId, long seq, ErrorCode code, String message, String field) {
            this(SCHEMA, jobId, seq, code.wire(), message == null || message.length() <= MAX_MESSAGE_CHARS ? message
                    : message.substring(0, MAX_MESSAGE_CHARS) + "... (" + (message.length() - MAX_MESSAGE_CHARS)
                            + " more characters)", field);
        }

        /** The code, empty when this client does not know it (then give up: {@link ErrorCode.Action#GIVE_UP}). */
        public java.util.Optional<ErrorCode> errorCode() {
            return ErrorCode.of(code);
        }
    }
}
