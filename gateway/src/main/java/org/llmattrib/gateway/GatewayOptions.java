package org.llmattrib.gateway;

import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.protocol.AttributionClient.KafkaUnreachableException;
import picocli.CommandLine.Option;

/** The gateway's command-line options, shared by {@code attrib gateway} and the gateway's own jar. */
public final class GatewayOptions {
    @Option(names = "--bootstrap", required = true, description = "Kafka bootstrap servers, HOST:PORT[,...]")
    String bootstrap;

    @Option(names = "--host", description = "interface to bind (default 127.0.0.1)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "HTTP port (default ${DEFAULT-VALUE}; 0: any)")
    int port;

    @Option(names = "--token", defaultValue = "${env:LLM_ATTRIB_GATEWAY_TOKEN}",
            description = "require 'Authorization: Bearer TOKEN' on /v1 (default: env LLM_ATTRIB_GATEWAY_TOKEN)")
    String token;

    @Option(names = "--cors-origin", description = "allow cross-origin calls from this origin (CORS is off otherwise)")
    String corsOrigin;

    @Option(names = "--connect-timeout", defaultValue = "PT15S", description = "how long Kafka may take to answer at"
            + " start before the gateway gives up; /health/ready answers 503 meanwhile (default: ${DEFAULT-VALUE})")
    Duration connectTimeout;

    @Option(names = "--max-body-bytes", description = "larger request bodies get 413 (default ${DEFAULT-VALUE})")
    long maxBodyBytes = GatewayConfig.DEFAULT_MAX_BODY_BYTES;

    @Option(names = "--max-jobs", description = "newest jobs held in memory with full results (default ${DEFAULT-VALUE})")
    int maxJobs = GatewayConfig.DEFAULT_MAX_JOBS;

    @Option(names = "--max-job-bytes", description = "a job's events beyond this many bytes are not held (the job"
            + " says truncated; read it from the results topic) (default ${DEFAULT-VALUE})")
    long maxJobBytes = EventLimits.DEFAULT.maxJobBytes();

    @Option(names = "--max-held-bytes", description = "beyond this many bytes of events in all, the oldest jobs are"
            + " forgotten (default ${DEFAULT-VALUE})")
    long maxHeldBytes = EventLimits.DEFAULT.maxHeldBytes();

    @Option(names = "--max-connections", description = "open HTTP connections beyond this are closed at once"
            + " (default ${DEFAULT-VALUE})")
    int maxConnections = ConnectionLimits.DEFAULT.maxConnections();

    @Option(names = "--idle-timeout", description = "an HTTP connection silent both ways this long is closed"
            + " (default ${DEFAULT-VALUE}; event streams send keep-alives)")
    Duration idleTimeout = ConnectionLimits.DEFAULT.idleTimeout();

    @Option(names = "--request-timeout", description = "a client has this long to send a whole request, headers and"
            + " body, else its connection is closed (default ${DEFAULT-VALUE})")
    Duration requestTimeout = ConnectionLimits.DEFAULT.requestTimeout();

    public GatewayConfig config() {
        String token = this.token == null || this.token.isBlank() ? null : this.token;
        return new GatewayConfig(bootstrap, host == null ? "127.0.0.1" : host, port, token, corsOrigin, maxBodyBytes,
                maxJobs, connectTimeout, new EventLimits(maxJobBytes, maxHeldBytes),
                new ConnectionLimits(maxConnections, idleTimeout, requestTimeout), Map.of());
    }

    /** Starts the gateway, prints its address, and serves until the JVM is stopped (Ctrl-C, SIGTERM). */
    public int serve(PrintStream out) throws InterruptedException {
        GatewayConfig config = config();
        if (config.token() == null && !isLoopback(config.host())) {
            out.println("warning: no --token, yet listening on " + config.host() + ": anyone who reaches it can submit");
        }
        Gateway gateway;
        try {
            gateway = Gateway.start(config);
        } catch (KafkaUnreachableException e) {
            throw new KafkaUnreachableException(e.getMessage() + " (--connect-timeout sets how long to wait)");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            gateway.close();
            stopped.countDown();
        }));
        out.println("dashboard: " + gateway.url());
        out.println("API: " + gateway.url() + "v1/jobs (OpenAPI at " + gateway.url() + "openapi.json)");
        stopped.await();
        return 0;
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
