package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.llmattrib.gateway.ConnectionLimitsTest;

/**
 * The metrics and health port holds a few connections, not as many as a client opens, and clients
 * that hold them cannot lock a probe out: a new connection closes the oldest.
 */
class HealthVerticleTest {
    @Test
    void aNewConnectionBeyondTheSmallCapIsServedAndTheOldestClosed() throws Exception {
        Vertx vertx = Vertx.vertx();
        List<Socket> held = new ArrayList<>();
        try {
            HealthVerticle health = new HealthVerticle("127.0.0.1", 0, new PrometheusMeterRegistry(
                    PrometheusConfig.DEFAULT), () -> true, () -> true);
            vertx.deployVerticle(health).await();
            for (int i = 0; i < HealthVerticle.LIMITS.maxConnections(); i++) {
                held.add(new Socket("127.0.0.1", health.actualPort()));
                held.get(i).setSoTimeout(10_000);
            }
            assertThat(ConnectionLimitsTest.liveCheck(held.get(1))).isEqualTo("HTTP/1.1 200");
            for (int probe = 0; probe < 3; probe++) {   // each probe finds the port full of held connections
                try (Socket extra = new Socket("127.0.0.1", health.actualPort())) {
                    extra.setSoTimeout(10_000);
                    assertThat(ConnectionLimitsTest.liveCheck(extra)).isEqualTo("HTTP/1.1 200");
                }
                held.add(new Socket("127.0.0.1", health.actualPort()));
            }
            assertThat(ConnectionLimitsTest.untilClosed(held.get(0))).isLessThan(java.time.Duration.ofMillis(500));
        } finally {
            for (Socket s : held) {
                s.close();
            }
            vertx.close().await();
        }
    }
}
