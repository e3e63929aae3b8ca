package org.llmattrib.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.util.function.BooleanSupplier;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.Control;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.JobStatus;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;

/** The {@code /v1/jobs} handlers; they run on the gateway's event loop. */
final class JobsApi {
    static final int MAX_LIST = 1000;

    private final JobStore store;
    private final RequestSender sender;
    private final GatewayMetrics metrics;
    private final BooleanSupplier ready;

    JobsApi(JobStore store, RequestSender sender, GatewayMetrics metrics, BooleanSupplier ready) {
        this.store = store;
        this.sender = sender;
        this.metrics = metrics;
        this.ready = ready;
    }

    /** {@code GET /v1/jobs?limit=N}: the newest jobs first (50 by default). */
    void list(RoutingContext ctx) {
        String param = ctx.queryParams().get("limit");
        int limit;
        try {
            limit = param == null ? 50 : Integer.parseInt(param);
        } catch (NumberFormatException e) {
            limit = -1;
        }
        if (limit < 1 || limit > MAX_LIST) {
            Responses.error(ctx, 400, "invalid_request", "limit must be an integer from 1 to " + MAX_LIST, "limit");
            return;
        }
        Responses.json(ctx, 200, store.newest(limit));
    }

    /**
     * {@code POST /v1/jobs}: validates the request with the worker's schema, then produces it keyed by
     * job id, as protocol/README.md's "Job identity" says: under a queued, running or completed job id
     * the same request (same {@code request_hash}) is that job and is not produced again, another is
     * refused (409 {@code duplicate_job_id}); a failed or cancelled job id is used again.
     */
    void submit(RoutingContext ctx) {
        byte[] json = withJobId(ctx.body().buffer());
        AttributionRequest request;
        try {
            request = Protocol.decodeRequest(json);
        } catch (ProtocolException e) {
            Responses.error(ctx, 400, e.code().wire(), e.getMessage(), e.field());
            return;
        }
        if (!ready.getAsBoolean()) {
            ctx.response().putHeader("retry-after", "1");
            Responses.error(ctx, 503, "not_ready", "the gateway is still reading the results topic", null);
            return;
        }
        String jobId = request.jobId();
        String hash = JobStatus.requestHash(request);
        Job known = store.get(jobId);
        if (known != null && !known.status().reusable()) {
            if (hash.equals(store.ownerHash(known))) {
                Responses.json(ctx, 202, JobLinks.of(jobId)); // the same request again: that job
            } else {
                Responses.error(ctx, 409, ErrorCode.DUPLICATE_JOB_ID.wire(), "job id '" + jobId + "' is " + known.status()
                        .json() + " with " + (store.ownerHash(known) == null ? "a request this gateway has not seen"
                        : "another request") + "; use a new job id", "job_id");
            }
            return;
        }
        Job job = store.submitted(jobId, hash);
        sender.send(ctx.vertx().getOrCreateContext(), Protocol.REQUESTS_TOPIC, jobId, json).onSuccess(m -> {
            metrics.submitted();
            Responses.json(ctx, 202, JobLinks.of(jobId));
        }).onFailure(e -> {
            store.forget(job);
            Responses.error(ctx, 503, "kafka_unavailable", "the request could not be sent: " + e.getMessage(), null);
        });
    }

    /** {@code GET /v1/jobs/{id}}. */
    void get(RoutingContext ctx) {
        Job job = find(ctx);
        if (job != null) {
            Responses.json(ctx, 200, job.snapshot());
        }
    }

    /** {@code DELETE /v1/jobs/{id}}: a cancel on the control topic; the job ends with a cancelled event. */
    void cancel(RoutingContext ctx) {
        Job job = find(ctx);
        if (job == null) {
            return;
        }
        sender.send(ctx.vertx().getOrCreateContext(), Protocol.CONTROL_TOPIC, job.id(),
                Protocol.encode(Control.cancel(job.id())))
                .onSuccess(m -> Responses.json(ctx, 202, JobLinks.of(job.id())))
                .onFailure(e -> Responses.error(ctx, 503, "kafka_unavailable",
                        "the cancel could not be sent: " + e.getMessage(), null));
    }

    /** The job named by the path, or null after answering 404. */
    Job find(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        Job job = store.get(id);
        if (job == null) {
            Responses.error(ctx, 404, "not_found", "no job '" + id + "' on the results topic (or no longer held)",
                    null);
        }
        return job;
    }

    /** The body, with a generated {@code job_id} when it is a JSON object without one. */
    private static byte[] withJobId(Buffer body) {
        byte[] bytes = body == null ? new byte[0] : body.getBytes();
        try {
            JsonNode node = Protocol.JSON.readTree(bytes);
            if (node instanceof ObjectNode object && !object.has("job_id")) {
                object.put("job_id", AttributionRequest.newJobId());
                return Protocol.JSON.writeValueAsBytes(object);
            }
        } catch (IOException e) {
            // not JSON: decodeRequest says so
        }
        return bytes;
    }
}
