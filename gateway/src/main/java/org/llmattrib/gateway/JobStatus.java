package org.llmattrib.gateway;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Where a job stands, as the gateway sees it from the results topic. */
public enum JobStatus {
    /** Posted through this gateway; no worker has accepted it yet. */
    QUEUED,
    /** Accepted by a worker; token events may be arriving. */
    RUNNING,
    COMPLETED,
    FAILED,
    /** Failed with code {@code cancelled}. */
    CANCELLED;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Failed or cancelled: the job id may be used again (protocol/README.md, "Job identity"). */
    public boolean reusable() {
        return this == FAILED || this == CANCELLED;
    }

    public boolean terminal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }
}
