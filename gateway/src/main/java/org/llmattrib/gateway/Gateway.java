package org.llmattrib.gateway;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import java.time.Duration;
import java.time.Instant;
import org.llmattrib.protocol.AttributionClient.KafkaUnreachableException;

/**
 * The HTTP gateway to the attribution service: submit requests, read jobs and their events (JSON,
 * Server-Sent Events), and the dashboard at {@code /}. It holds one producer and one results
 * consumer for its whole life and no model: run it apart from the workers.
 */
public final class Gateway implements AutoCloseable {
    private final GatewayConfig config;
    private final Vertx vertx;
    private final RequestSender sender;
    private final GatewayVerticle verticle;

    private Gateway(GatewayConfig config) {
        this.config = config;
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        vertx = Vertx.builder()
                .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
                        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))))
                .withMetrics(new MicrometerMetricsFactory(registry))
                .build();
        sender = new RequestSender(config.kafkaProperties());
        verticle = new GatewayVerticle(config, registry, sender);
    }

    /**
     * Starts a gateway; returns once it listens and Kafka has answered (see {@link #awaitReady} for the
     * job view). Meanwhile {@code /health/ready} answers 503.
     *
     * @throws KafkaUnreachableException naming the bootstrap address when Kafka does not answer within
     *     the config's connect timeout (the gateway is closed again)
     */
    public static Gateway start(GatewayConfig config) {
        if (config.maxJobs() < 1 || config.maxBodyBytes() < 1) {
            throw new IllegalArgumentException("max jobs and max body size must be positive");
        }
        if (config.corsOrigin() != null) {
            CrossSiteGuard.parseConfigured(config.corsOrigin());
        }
        Gateway gateway = new Gateway(config);
        try {
            await(gateway.vertx.deployVerticle(gateway.verticle));
            gateway.verticle.awaitKafka(config.connectTimeout());
            return gateway;
        } catch (RuntimeException e) {
            gateway.close();
            throw e;
        }
    }

    /** True once the results topic has been read up to the end offsets it had when the gateway started. */
    public boolean ready() {
        return verticle.ready();
    }

    /** Waits until {@link #ready()}; false after {@code timeout}. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (!ready() && Instant.now().isBefore(end)) {
            Thread.sleep(20);
        }
        return ready();
    }

    public int port() {
        return verticle.actualPort();
    }

    /** The dashboard's address, e.g. {@code http://127.0.0.1:8080/}. */
    public String url() {
        String host = "0.0.0.0".equals(config.host()) ? "127.0.0.1" : config.host();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port() + "/";
    }

    @Override
    public void close() {
        try {
            await(vertx.close());
        } finally {
            sender.close();
        }
    }

    private static <T> T await(Future<T> future) {
        return future.toCompletionStage().toCompletableFuture().join();
    }
}
