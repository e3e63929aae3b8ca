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

/** The metrics and health port holds a few connections, not as many as a client opens. */
class HealthVerticleTest {
    @Test
    void connectionsBeyondTheSmallCapAreClosedAtOnce() throws Exception {
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
            assertThat(ConnectionLimitsTest.liveCheck(held.get(0))).isEqualTo("HTTP/1.1 200");
            try (Socket extra = new Socket("127.0.0.1", health.actualPort())) {
                extra.setSoTimeout(10_000);
                assertThat(ConnectionLimitsTest.untilClosed(extra)).isLessThan(java.time.Duration.ofMillis(500));
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
            vertx.close().await();
        }
    }
}
