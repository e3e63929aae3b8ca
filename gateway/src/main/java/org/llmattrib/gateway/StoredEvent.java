package org.llmattrib.gateway;

import java.nio.charset.StandardCharsets;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/** One event of a job: decoded, and its JSON exactly as the worker published it (what SSE sends). */
record StoredEvent(AttributionEvent event, String json) {
    /** @throws org.llmattrib.protocol.ProtocolException when {@code value} is not an attribution event */
    static StoredEvent decode(byte[] value) {
        return new StoredEvent(Protocol.decodeEvent(value), new String(value, StandardCharsets.UTF_8));
    }

    /** What it costs to hold: its JSON's length (bytes, but for non-ASCII text). */
    long size() {
        return json.length();
    }

    long seq() {
        return event.seq();
    }

    /** The protocol's {@code type}: accepted, token, completed or failed. */
    String type() {
        if (event instanceof AttributionEvent.Accepted) {
            return "accepted";
        }
        if (event instanceof AttributionEvent.Token) {
            return "token";
        }
        return event instanceof AttributionEvent.Completed ? "completed" : "failed";
    }

    boolean terminal() {
        return event instanceof AttributionEvent.Completed || event instanceof AttributionEvent.Failed;
    }
}
