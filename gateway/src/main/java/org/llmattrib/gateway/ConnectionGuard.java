package org.llmattrib.gateway;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Holds an HTTP server to its {@link ConnectionLimits}, so that idle or slow clients (slowloris)
 * cannot pile up connections and file descriptors: connections beyond the cap are closed at once,
 * idle ones after the idle timeout (Vert.x's), and one whose request has not fully arrived within
 * the request timeout is closed. A response that takes long (a Server-Sent Event stream) is not
 * limited: its request has arrived. Runs on the server's event loop (one verticle instance).
 */
public final class ConnectionGuard {
    /** What a full server does with a new connection. */
    public enum WhenFull {
        /** Close it: who holds a connection keeps it (an API whose streams are long-lived). */
        REFUSE_NEWEST,
        /**
         * Close the oldest connection to take it: a newcomer is always served, so clients that hold
         * connections cannot lock out a probe (a health port, whose requests take milliseconds).
         */
        CLOSE_OLDEST
    }

    private final Vertx vertx;
    private final ConnectionLimits limits;
    private final WhenFull whenFull;
    /** Open connections, oldest first, each with its request-deadline timer (or -1 while a request is being answered). */
    private final Map<HttpConnection, Long> open = new LinkedHashMap<>();

    private ConnectionGuard(Vertx vertx, ConnectionLimits limits, WhenFull whenFull) {
        this.vertx = vertx;
        this.limits = limits;
        this.whenFull = whenFull;
    }

    /** A server for {@code router}, guarded by {@code limits}, listening on {@code host:port}. */
    public static Future<HttpServer> listen(Vertx vertx, ConnectionLimits limits, WhenFull whenFull, Router router,
            String host, int port) {
        ConnectionGuard guard = new ConnectionGuard(vertx, limits, whenFull);
        router.route().order(Integer.MIN_VALUE).handler(guard::requestArrived);
        // HTTP/1.1 only: without h2c detection a connection is handed over as soon as it is accepted (not after
        // its first bytes), and it carries one request at a time, which the deadline assumes
        return vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(false)
                        .setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
                        .setIdleTimeout(Math.toIntExact(limits.idleTimeout().toMillis())))
                .connectionHandler(guard::connected).requestHandler(router).listen(port, host);
    }

    private void connected(HttpConnection connection) {
        if (open.size() >= limits.maxConnections()) {
            if (whenFull == WhenFull.REFUSE_NEWEST) {
                connection.close();
                return;
            }
            HttpConnection oldest = open.keySet().iterator().next();
            disarm(open.remove(oldest));
            oldest.close();
        }
        open.put(connection, -1L);
        connection.closeHandler(v -> disarm(open.remove(connection)));
        arm(connection);
    }

    /** The headers are in: once the body is too, the deadline is off until the response has ended. */
    private void requestArrived(RoutingContext ctx) {
        HttpConnection connection = ctx.request().connection();
        ctx.request().end().onComplete(v -> {
            if (!ctx.response().ended()) { // else the deadline runs for the next request already
                disarm(open.replace(connection, -1L));
            }
        });
        ctx.addEndHandler(v -> arm(connection));
        ctx.next();
    }

    /** The next request must arrive in full within the request timeout. */
    private void arm(HttpConnection connection) {
        if (open.containsKey(connection)) {
            disarm(open.put(connection, vertx.setTimer(limits.requestTimeout().toMillis(), t -> connection.close())));
        }
    }

    private void disarm(Long timer) {
        if (timer != null && timer >= 0) {
            vertx.cancelTimer(timer);
        }
    }
}
