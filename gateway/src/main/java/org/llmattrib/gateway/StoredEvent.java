package org.llmattrib.gateway;

import org.llmattrib.protocol.AttributionEvent;

/** One event of a job: decoded, and its JSON exactly as the worker published it (what SSE sends). */
record StoredEvent(AttributionEvent event, String json) {
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
