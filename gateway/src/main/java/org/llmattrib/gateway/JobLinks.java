package org.llmattrib.gateway;

/** The answer to a submit or cancel (202): where to read the job. */
public record JobLinks(String jobId, String statusUrl, String eventsUrl) {
    static JobLinks of(String jobId) {
        return new JobLinks(jobId, "/v1/jobs/" + jobId, "/v1/jobs/" + jobId + "/events");
    }
}
