package org.llmattrib.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One line of {@code GET /v1/jobs}: newest first. {@code tokens}: target tokens received so far. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobSummary(String jobId, JobStatus status, String method, String model, int features, int tokens,
        String created) {}
