package org.llmattrib.protocol;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * CloudEvents 1.0 attributes of the records the workers write, in the Kafka protocol binding's
 * binary mode: the record value stays the protocol's JSON, the attributes travel as {@code ce_*}
 * headers (see protocol/README.md for the mapping).
 */
public final class CloudEvents {
    public static final String SPEC_VERSION = "1.0";
    public static final String CONTENT_TYPE = "application/json";

    /** The {@code ce_type} of each kind of record. */
    public enum Type {
        ACCEPTED("org.llmattrib.attribution.accepted"),
        TOKEN("org.llmattrib.attribution.token"),
        COMPLETED("org.llmattrib.attribution.completed"),
        FAILED("org.llmattrib.attribution.failed"),
        /** A request dead-lettered to {@code attribution.requests.dlq}. */
        REQUEST_REJECTED("org.llmattrib.attribution.request.rejected");

        public final String value;

        Type(String value) {
            this.value = value;
        }

        static Type of(AttributionEvent event) {
            if (event instanceof AttributionEvent.Accepted) {
                return ACCEPTED;
            } else if (event instanceof AttributionEvent.Token) {
                return TOKEN;
            } else if (event instanceof AttributionEvent.Completed) {
                return COMPLETED;
            }
            return FAILED;
        }
    }

    private CloudEvents() {}

    /** {@code ce_source} of a worker: a URN naming it. */
    public static String workerSource(String workerId) {
        return "urn:llm-attrib:worker:" + workerId;
    }

    /** Headers of an event on {@code attribution.results}: id {@code <job_id>-<seq>}, subject the job id. */
    public static List<Header> ofEvent(AttributionEvent event, String source) {
        return headers(event.jobId() + "-" + event.seq(), source, Type.of(event), event.jobId());
    }

    /**
     * Headers of a dead-lettered request: id {@code <topic>/<partition>@<offset>} of the original
     * record, subject its job id when readable (else no subject).
     */
    public static List<Header> ofRejectedRequest(String topic, int partition, long offset, String jobId, String source) {
        return headers(topic + "/" + partition + "@" + offset, source, Type.REQUEST_REJECTED, jobId);
    }

    private static List<Header> headers(String id, String source, Type type, String subject) {
        List<Header> h = new ArrayList<>();
        h.add(header("ce_specversion", SPEC_VERSION));
        h.add(header("ce_id", id));
        h.add(header("ce_source", source));
        h.add(header("ce_type", type.value));
        if (subject != null) {
            h.add(header("ce_subject", subject));
        }
        h.add(header("ce_time", Instant.now().toString()));
        h.add(header("content-type", CONTENT_TYPE));
        return h;
    }

    private static Header header(String key, String value) {
        return new RecordHeader(key, value.getBytes(StandardCharsets.UTF_8));
    }

    /** A header's value as text, or null when absent. */
    public static String text(Headers headers, String key) {
        Header h = headers.lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
