package org.llmattrib.service;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.Job;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request from bytes to events, the same for the Kafka worker and {@code attrib explain}: the
 * last event is {@code completed} or {@code failed}, except when the job is abandoned (shutdown,
 * partition revoked), which publishes nothing more so that the next owner reruns it.
 */
public final class JobRunner {
    private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

    /** How a job ended. */
    public enum Status {
        COMPLETED, FAILED, ABANDONED;

        /** The metrics tag. */
        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** How a job ended; {@code code} is the failure code, null unless it failed. */
    public record Outcome(Status status, ErrorCode code, int targetTokens) {}

    /** Thrown at a checkpoint to stop a job between steps with a {@code failed} event. */
    static final class Stopped extends RuntimeException {
        final ErrorCode code;
        final String field;

        Stopped(ErrorCode code, String field, String message) {
            super(message, null, false, false);
            this.code = code;
            this.field = field;
        }
    }

    /** Thrown at a checkpoint to stop a job that is no longer this worker's: nothing more is published. */
    static final class Abandoned extends RuntimeException {
        Abandoned() {
            super("abandoned", null, false, false);
        }
    }

    private final AttributionEngine engine;
    private final RequestPlanner planner;
    private final String workerId;

    private final int maxEventBytes;

    public JobRunner(AttributionEngine engine, RequestPlanner planner, String workerId) {
        this(engine, planner, workerId, Protocol.MAX_EVENT_BYTES);
    }

    /** @param maxEventBytes the most bytes an event may encode to (tests make it small) */
    JobRunner(AttributionEngine engine, RequestPlanner planner, String workerId, int maxEventBytes) {
        this.engine = engine;
        this.planner = planner;
        this.workerId = workerId;
        this.maxEventBytes = maxEventBytes;
    }

    /**
     * Decodes and runs a request. A request that cannot be decoded throws {@link ProtocolException}
     * (the caller reports it under its job id when that could be read).
     */
    public Outcome run(byte[] json, Map<String, Double> extraTimings, BooleanSupplier cancelled,
            BooleanSupplier abandoned, Consumer<AttributionEvent> sink) {
        return run(Protocol.decodeRequest(json), json.length, extraTimings, cancelled, abandoned, sink);
    }

    /**
     * Runs a request.
     *
     * @param requestBytes the size of the request as it arrived (a limit)
     * @param cancelled polled between steps: the client cancelled the job
     * @param abandoned polled between steps: stop without publishing anything more
     */
    public Outcome run(AttributionRequest request, int requestBytes, Map<String, Double> extraTimings,
            BooleanSupplier cancelled,
            BooleanSupplier abandoned, Consumer<AttributionEvent> sink) {
        JobEvents events = new JobEvents(request.jobId(), workerId, engine.llama().directory().getFileName().toString(),
                request.method().name(), extraTimings, event -> sink.accept(withinRecordSize(event)));
        try {
            Job job = planner.plan(request, requestBytes);
            Runnable checkpoint = () -> {
                if (abandoned.getAsBoolean()) {
                    throw new Abandoned();
                }
                if (cancelled.getAsBoolean()) {
                    throw new Stopped(ErrorCode.CANCELLED, null, "the job was cancelled by a control message");
                }
                if (job.deadline() != null && Instant.now().isAfter(job.deadline())) {
                    throw new Stopped(ErrorCode.DEADLINE_EXCEEDED, "deadline", "the job passed its deadline "
                            + job.deadline());
                }
            };
            checkpoint.run();
            engine.run(job, events, checkpoint);
            return new Outcome(Status.COMPLETED, null, events.tokenCount());
        } catch (Abandoned a) {
            return new Outcome(Status.ABANDONED, null, events.tokenCount());
        } catch (Stopped s) {
            events.failed(s.code, s.getMessage(), s.field);
            return new Outcome(Status.FAILED, s.code, events.tokenCount());
        } catch (RequestException e) {
            events.failed(e.code(), e.getMessage(), e.field());
            return new Outcome(Status.FAILED, e.code(), events.tokenCount());
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError | LinkageError e) {
            // a job that breaks the worker's code or memory fails alone; it is not retried forever
            LOG.error("job {} failed", request.jobId(), e);
            events.failed(ErrorCode.INTERNAL, e.getClass().getSimpleName() + ": " + e.getMessage(), null);
            return new Outcome(Status.FAILED, ErrorCode.INTERNAL, events.tokenCount());
        }
    }

    /**
     * An event as it may be published: one that would encode to more than
     * {@link Protocol#MAX_EVENT_BYTES} (a Kafka record's default limit, with room for key and
     * headers) fails its job instead, with what to ask for less of.
     */
    private AttributionEvent withinRecordSize(AttributionEvent event) {
        int bytes = Protocol.encode(event).length;
        if (bytes > maxEventBytes) {
            throw new RequestException(ErrorCode.LIMIT_EXCEEDED, null, String.format(Locale.ROOT,
                    "the job's %s event is %,d bytes encoded, over the %,d an event may take (a Kafka record):"
                            + " ask for fewer features, layers or target tokens", event.getClass().getSimpleName()
                            .toLowerCase(Locale.ROOT), bytes, maxEventBytes));
        }
        return event;
    }

    /**
     * Small jobs that a worker runs, their events going nowhere, before its first real one: cached
     * perturbation forwards through the packer, integrated gradients at the embeddings (fused layers
     * under autograd) and at taps inside a layer (the step-by-step layer and its backward).
     */
    private static final List<String> WARM_UP = List.of("""
            {"schema": "attribution-request/v1", "job_id": "warm-up-perturbation",
             "input": {"type": "tokens", "text": "The quick brown fox"}, "target": " jumps over",
             "method": {"name": "feature_ablation"}}""", """
            {"schema": "attribution-request/v1", "job_id": "warm-up-embeddings",
             "input": {"type": "tokens", "text": "The quick brown fox"}, "target": " jumps over",
             "method": {"name": "layer_integrated_gradients", "n_steps": 4}, "layers": ["model.embed_tokens"]}""", """
            {"schema": "attribution-request/v1", "job_id": "warm-up-layers",
             "input": {"type": "tokens", "text": "The quick brown fox"}, "target": " jumps over",
             "method": {"name": "layer_integrated_gradients", "n_steps": 2},
             "layers": ["model.embed_tokens", "model.layers.0.self_attn.q_proj", "model.layers.0.mlp"],
             "multi_layer": "independent"}""");

    /**
     * Runs the {@link #WARM_UP} jobs, so that the first real job finds libtorch's kernels loaded (on
     * a GPU: CUDA modules, cuBLAS handles, the caching allocator's blocks) and the JVM's code
     * compiled. Returns the seconds it took, 0 for a model without a tokenizer (nothing to warm
     * with); a warm-up job that fails is logged and skipped, never fatal.
     */
    public double warmUp() {
        if (engine.llama().tokenizer().isEmpty()) {
            return 0;
        }
        long start = System.nanoTime();
        for (String request : WARM_UP) {
            List<AttributionEvent> events = new ArrayList<>();
            Outcome outcome = run(request.getBytes(StandardCharsets.UTF_8), Map.of(), () -> false, () -> false,
                    events::add);
            if (outcome.status() != Status.COMPLETED) {
                LOG.warn("warm-up job failed, skipped: {}", events.isEmpty() ? outcome : events.get(events.size() - 1));
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** Failed event for a request that could not be decoded but whose job id is known. */
    public static AttributionEvent.Failed undecodable(ProtocolException e) {
        return new AttributionEvent.Failed(e.jobId(), 0, e.code(), e.getMessage(), e.field());
    }
}
