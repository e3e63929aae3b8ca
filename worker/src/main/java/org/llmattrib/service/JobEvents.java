package org.llmattrib.service;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.llmattrib.attribution.JobListener;
import org.llmattrib.attribution.RequestException;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.ErrorCode;

/**
 * Turns a job's results into protocol events numbered 0, 1, 2, ... (the seq consumers deduplicate
 * on); an event the sink refuses takes no number, so the numbers have no gaps.
 */
public final class JobEvents implements JobListener {
    private final String jobId;
    private final String worker;
    private final String model;
    private final String method;
    private final Consumer<AttributionEvent> sink;
    private final Map<String, Double> extraTimings;
    private long seq;
    private int tokens;

    /** @param extraTimings added to the completed event's timings (e.g. queue_ms) */
    public JobEvents(String jobId, String worker, String model, String method, Map<String, Double> extraTimings,
            Consumer<AttributionEvent> sink) {
        this.jobId = jobId;
        this.worker = worker;
        this.model = model;
        this.method = method;
        this.extraTimings = extraTimings;
        this.sink = sink;
    }

    @Override
    public void accepted(List<String> features, List<String> targetTokens) {
        sink.accept(new AttributionEvent.Accepted(AttributionEvent.SCHEMA, jobId, seq, worker, model, method,
                features, targetTokens));
        seq++;
    }

    @Override
    public void token(TokenResult t) {
        boolean finite = Double.isFinite(t.logProb()) && finite(t.attr())
                && (t.layers() == null || t.layers().values().stream().allMatch(JobEvents::finite))
                && (t.ig() == null || t.ig().values().stream().allMatch(c -> finite(c.fInput(), c.fBaseline(), c.delta())));
        if (!finite) {
            throw new RequestException(ErrorCode.INVALID_REQUEST, null, "target token " + t.index() + " ('"
                    + t.token() + "'): its log-probability or attributions are not finite (NaN or"
                    + " infinite): the request's numbers (e.g. method.stdevs, baselines) overflow the model's arithmetic");
        }
        Map<String, AttributionEvent.IgCheck> ig = null;
        if (t.ig() != null) {
            ig = new LinkedHashMap<>();
            for (Map.Entry<String, IgCheck> e : t.ig().entrySet()) {
                ig.put(e.getKey(), new AttributionEvent.IgCheck(e.getValue().fInput(), e.getValue().fBaseline(),
                        e.getValue().delta(), e.getValue().steps()));
            }
        }
        sink.accept(new AttributionEvent.Token(AttributionEvent.SCHEMA, jobId, seq, t.index(), t.tokenId(), t.token(),
                t.logProb(), list(t.attr()), lists(t.layers()), ig, t.tensors()));
        seq++;
        tokens++;
    }

    @Override
    public void completed(Completion c) {
        Map<String, Double> timings = new LinkedHashMap<>(extraTimings);
        timings.putAll(c.timings());
        List<Long> ids = new ArrayList<>();
        for (long id : c.outputTokenIds()) {
            ids.add(id);
        }
        sink.accept(new AttributionEvent.Completed(AttributionEvent.SCHEMA, jobId, seq, list(c.seqAttr()),
                c.outputTokens(), ids, lists(c.layersSeqAttr()), timings, c.work()));
        seq++;
    }

    public int tokenCount() {
        return tokens;
    }

    public void failed(ErrorCode code, String message, String field) {
        sink.accept(new AttributionEvent.Failed(jobId, seq, code, message, field));
        seq++;
    }

    private static boolean finite(double... values) {
        for (double v : values) {
            if (!Double.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    private static List<Double> list(double[] values) {
        List<Double> out = new ArrayList<>(values.length);
        for (double v : values) {
            out.add(v);
        }
        return out;
    }

    private static Map<String, List<Double>> lists(Map<String, double[]> rows) {
        if (rows == null) {
            return null;
        }
        Map<String, List<Double>> out = new LinkedHashMap<>();
        rows.forEach((k, v) -> out.put(k, list(v)));
        return out;
    }
}
