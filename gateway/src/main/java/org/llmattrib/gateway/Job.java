package org.llmattrib.gateway;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.AttributionEvent.IgCheck;

/**
 * One job's events, each seq once, and who follows them. Not thread-safe: the gateway touches jobs
 * on its event loop only.
 */
final class Job {
    /** What {@link #add} did with an event. */
    enum Added { ADDED, DUPLICATE, TRUNCATED }

    private final String id;
    private final Instant created;
    private final long maxBytes;
    /** The hash of the request posted through this gateway ({@code JobStatus.requestHash}), or null. */
    private final String requestHash;
    private long bytes;
    private boolean truncated;
    private final TreeMap<Long, StoredEvent> events = new TreeMap<>();
    private final TreeMap<Integer, AttributionEvent.Token> tokens = new TreeMap<>();
    private final List<Consumer<StoredEvent>> followers = new ArrayList<>();
    private AttributionEvent.Accepted accepted;
    private AttributionEvent.Completed completed;
    private AttributionEvent.Failed failed;

    Job(String id, Instant created, long maxBytes, String requestHash) {
        this.id = id;
        this.created = created;
        this.maxBytes = maxBytes;
        this.requestHash = requestHash;
    }

    String requestHash() {
        return requestHash;
    }

    String id() {
        return id;
    }

    Instant created() {
        return created;
    }

    /**
     * Adds an event unless its seq is known (a rerun after a worker crash repeats them) or it would take
     * the job's events beyond {@code maxBytes} (but a terminal event: the job ends); tells followers.
     */
    Added add(StoredEvent stored) {
        if (events.containsKey(stored.seq())) {
            return Added.DUPLICATE;
        }
        if (!stored.terminal() && bytes + stored.size() > maxBytes) {
            truncated = true;
            return Added.TRUNCATED;
        }
        events.put(stored.seq(), stored);
        bytes += stored.size();
        AttributionEvent event = stored.event();
        if (event instanceof AttributionEvent.Accepted a) {
            accepted = a;
        } else if (event instanceof AttributionEvent.Token t) {
            tokens.put(t.index(), t);
        } else if (event instanceof AttributionEvent.Completed c) {
            completed = c;
        } else if (event instanceof AttributionEvent.Failed f) {
            failed = f;
        }
        List.copyOf(followers).forEach(f -> f.accept(stored));
        return Added.ADDED;
    }

    /** The bytes of the events held. */
    long bytes() {
        return bytes;
    }

    boolean hasEvents() {
        return !events.isEmpty();
    }

    /** The events after {@code seq} (-1: all), in seq order. */
    Collection<StoredEvent> eventsAfter(long seq) {
        return events.tailMap(seq, false).values();
    }

    /** Feeds {@code follower} every event added from now on; run the returned action to stop. */
    Runnable follow(Consumer<StoredEvent> follower) {
        followers.add(follower);
        return () -> followers.remove(follower);
    }

    JobStatus status() {
        if (completed != null) {
            return JobStatus.COMPLETED;
        }
        if (failed != null) {
            return failed.errorCode().equals(Optional.of(ErrorCode.CANCELLED)) ? JobStatus.CANCELLED : JobStatus.FAILED;
        }
        return accepted != null ? JobStatus.RUNNING : JobStatus.QUEUED;
    }

    JobSummary summary() {
        return new JobSummary(id, status(), accepted == null ? null : accepted.method(),
                accepted == null ? null : accepted.model(), accepted == null ? 0 : accepted.features().size(),
                tokens.size(), created.toString());
    }

    JobSnapshot snapshot() {
        List<List<Double>> tokenAttr = new ArrayList<>();
        List<Double> logProbs = new ArrayList<>();
        List<String> received = new ArrayList<>();
        Map<String, List<List<Double>>> layers = new LinkedHashMap<>();
        List<Map<String, IgCheck>> ig = new ArrayList<>();
        for (AttributionEvent.Token t : tokens.values()) {
            tokenAttr.add(t.attr());
            logProbs.add(t.logProb());
            received.add(t.token());
            if (t.layers() != null) {
                t.layers().forEach((layer, row) -> layers.computeIfAbsent(layer, k -> new ArrayList<>()).add(row));
            }
            if (t.ig() != null) {
                ig.add(t.ig());
            }
        }
        ApiError error = failed == null ? null : new ApiError(failed.code(), failed.message(), failed.field());
        return new JobSnapshot(id, status(), accepted == null ? null : accepted.worker(),
                accepted == null ? null : accepted.model(), accepted == null ? null : accepted.method(),
                accepted == null ? null : accepted.features(), accepted == null ? null : accepted.targetTokens(),
                completed != null ? completed.outputTokens() : received, tokenAttr, logProbs,
                layers.isEmpty() ? null : layers, ig.isEmpty() ? null : ig,
                completed == null ? null : completed.seqAttr(), completed == null ? null : completed.layersSeqAttr(),
                completed == null ? null : completed.timings(), completed == null ? null : completed.work(), error,
                events.size(), truncated ? Boolean.TRUE : null);
    }
}
