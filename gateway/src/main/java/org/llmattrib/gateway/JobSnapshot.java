package org.llmattrib.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;
import org.llmattrib.protocol.AttributionEvent.IgCheck;

/**
 * {@code GET /v1/jobs/{id}}: a job as a Captum user wants it, built from the events received so far.
 *
 * @param features the input features (Captum's {@code input_tokens})
 * @param outputTokens the target tokens: the completed event's, else those received so far
 * @param tokenAttr one row per target token received (Captum's {@code token_attr}), in token order
 * @param logProbs each received target token's log-probability
 * @param layers gradient methods: per layer, one row per target token
 * @param ig integrated gradients and gradient SHAP: per target token, the completeness check per layer
 * @param seqAttr Captum's {@code seq_attr}, once completed
 * @param events the number of distinct events held
 * @param truncated true when events beyond the gateway's {@code --max-job-bytes} were dropped (the
 *     token rows above lack them): read the job's events from {@code attribution.results}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobSnapshot(String jobId, JobStatus status, String worker, String model, String method,
        List<String> features, List<String> targetTokens, List<String> outputTokens, List<List<Double>> tokenAttr,
        List<Double> logProbs, Map<String, List<List<Double>>> layers, List<Map<String, IgCheck>> ig,
        List<Double> seqAttr, Map<String, List<Double>> layersSeqAttr, Map<String, Double> timings,
        Map<String, Number> work, ApiError error, int events, Boolean truncated) {}
