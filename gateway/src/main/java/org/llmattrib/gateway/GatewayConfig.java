package org.llmattrib.gateway;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.llmattrib.protocol.AttributionClient;

/**
 * How a gateway runs.
 *
 * @param bootstrap Kafka bootstrap servers
 * @param host the interface to bind (127.0.0.1 by default)
 * @param port the HTTP port (0: any free port)
 * @param token when not null, every {@code /v1} call needs {@code Authorization: Bearer <token>}
 * @param corsOrigin when not null, the one origin allowed cross-origin calls (CORS is off otherwise)
 * @param maxBodyBytes larger request bodies get 413
 * @param maxJobs the newest jobs kept in memory with their full results
 * @param connectTimeout how long Kafka may take to answer at start before {@link Gateway#start} gives up
 * @param events how many bytes of events are held, per job and in all
 * @param connections what HTTP clients may hold: connections, idle time, time to send a request
 * @param kafka extra Kafka client properties (security, say) for the producer and the consumer
 */
public record GatewayConfig(String bootstrap, String host, int port, String token, String corsOrigin,
        long maxBodyBytes, int maxJobs, Duration connectTimeout, EventLimits events, ConnectionLimits connections,
        Map<String, Object> kafka) {
    public static final long DEFAULT_MAX_BODY_BYTES = 1 << 20;
    public static final int DEFAULT_MAX_JOBS = 1000;

    /** Loopback, any free port, no token, no CORS, the default limits and connect timeout. */
    public static GatewayConfig local(String bootstrap) {
        return new GatewayConfig(bootstrap, "127.0.0.1", 0, null, null, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JOBS,
                AttributionClient.DEFAULT_CONNECT_TIMEOUT, EventLimits.DEFAULT, ConnectionLimits.DEFAULT, Map.of());
    }

    /** {@link #kafka} with the bootstrap servers: the base of the producer's and the consumer's settings. */
    Properties kafkaProperties() {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }

    public GatewayConfig withPort(int newPort) {
        return new GatewayConfig(bootstrap, host, newPort, token, corsOrigin, maxBodyBytes, maxJobs, connectTimeout,
                events, connections, kafka);
    }

    public GatewayConfig withToken(String newToken) {
        return new GatewayConfig(bootstrap, host, port, newToken, corsOrigin, maxBodyBytes, maxJobs, connectTimeout,
                events, connections, kafka);
    }

    public GatewayConfig withCorsOrigin(String newCorsOrigin) {
        return new GatewayConfig(bootstrap, host, port, token, newCorsOrigin, maxBodyBytes, maxJobs, connectTimeout,
                events, connections, kafka);
    }

    public GatewayConfig withLimits(long newMaxBodyBytes, int newMaxJobs) {
        return new GatewayConfig(bootstrap, host, port, token, corsOrigin, newMaxBodyBytes, newMaxJobs, connectTimeout,
                events, connections, kafka);
    }

    public GatewayConfig withConnections(ConnectionLimits newConnections) {
        return new GatewayConfig(bootstrap, host, port, token, corsOrigin, maxBodyBytes, maxJobs, connectTimeout,
                events, newConnections, kafka);
    }

    public GatewayConfig withEvents(EventLimits newEvents) {
        return new GatewayConfig(bootstrap, host, port, token, corsOrigin, maxBodyBytes, maxJobs, connectTimeout,
                newEvents, connections, kafka);
    }
}
