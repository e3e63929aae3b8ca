package org.llmattrib.service;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.llmattrib.protocol.Control;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.llmattrib.protocol.TopicFollower;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the control topic (every worker sees every cancel) and remembers, per job id, the time of
 * its latest cancel for {@link #REMEMBER}. A cancel applies to a request written at or before it (a
 * job running or queued when the cancel was sent), never to a request sent after it: a job id may be
 * submitted again once cancelled. Times are the records' timestamps (producer clocks by default).
 */
public final class CancelListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CancelListener.class);
    /** How long a cancel is kept: also how far back the control topic is read at start-up. */
    static final Duration REMEMBER = Duration.ofHours(24);

    private final Map<String, Long> cancelledAt = new ConcurrentHashMap<>();
    private final TopicFollower follower;

    public CancelListener(Properties kafka) {
        follower = new TopicFollower(kafka, Protocol.CONTROL_TOPIC, records -> records.forEach(this::onRecord));
    }

    /** Reads the cancels of the last {@link #REMEMBER} (a cancel may reach this worker before its job does). */
    public CancelListener start(Duration timeout) {
        follower.startAndWait(Instant.now().minus(REMEMBER), timeout);
        return this;
    }

    /** Whether the request written at {@code requestTimestamp} has been cancelled since. */
    public boolean isCancelled(String jobId, long requestTimestamp) {
        Long at = cancelledAt.get(jobId);
        return at != null && at >= requestTimestamp;
    }

    boolean alive() {
        return follower.alive();
    }

    private void onRecord(ConsumerRecord<String, byte[]> r) {
        try {
            Control c = Protocol.decodeControl(r.value());
            cancelledAt.merge(c.jobId(), r.timestamp(), Math::max);
        } catch (ProtocolException e) {
            LOG.warn("ignoring bad control message at offset {}: {}", r.offset(), e.getMessage());
        }
        long forgetBefore = System.currentTimeMillis() - REMEMBER.toMillis();
        cancelledAt.values().removeIf(at -> at < forgetBefore);
    }

    @Override
    public void close() {
        follower.close();
    }
}
