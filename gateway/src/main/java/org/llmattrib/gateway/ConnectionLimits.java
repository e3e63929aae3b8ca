package org.llmattrib.gateway;

import java.time.Duration;

/**
 * What one client may hold of an HTTP server (see {@link ConnectionGuard}).
 *
 * @param maxConnections open connections beyond this are closed as soon as they are accepted
 * @param idleTimeout a connection that neither sends nor takes a byte for this long is closed
 * @param requestTimeout from a connection's opening (or the end of its previous response), the time a
 *     client has to send a whole request, headers and body; past it the connection is closed
 */
public record ConnectionLimits(int maxConnections, Duration idleTimeout, Duration requestTimeout) {
    public static final ConnectionLimits DEFAULT = new ConnectionLimits(1024, Duration.ofSeconds(60),
            Duration.ofSeconds(30));

    public ConnectionLimits {
        if (maxConnections < 1 || idleTimeout.toMillis() < 1 || requestTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("max connections, idle timeout and request timeout must be positive");
        }
    }

    public ConnectionLimits withMaxConnections(int newMaxConnections) {
        return new ConnectionLimits(newMaxConnections, idleTimeout, requestTimeout);
    }
}
