package org.llmattrib.protocol;

/** A control message (schema {@code attribution-control/v1}, topic {@code attribution.control}): cancel a job. */
public record Control(String schema, String type, String jobId) {
    public static final String SCHEMA = "attribution-control/v1";

    public static Control cancel(String jobId) {
        return new Control(SCHEMA, "cancel", jobId);
    }
}
