package org.llmattrib.service;

import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the Kafka cluster answers, for readiness: a worker that cannot reach its broker cannot
 * receive jobs, so it is not ready; it stays live (restarting it would not bring the broker back,
 * and its clients reconnect by themselves). Asks for the cluster's nodes every {@code period}, off
 * the event loop; unreachable once no answer came for {@code grace}.
 */
final class BrokerWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BrokerWatch.class);

    private final Vertx vertx;
    private final Admin admin;
    private final Duration period;
    private final Duration grace;
    private final long timer;
    private volatile long lastAnswerNanos = System.nanoTime();
    private volatile boolean reported;

    /** @param kafka client properties (bootstrap servers, security) */
    BrokerWatch(Vertx vertx, Properties kafka, Duration period, Duration grace) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) period.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) period.toMillis());
        this.vertx = vertx;
        this.admin = Admin.create(p);
        this.period = period;
        this.grace = grace;
        this.timer = vertx.setPeriodic(period.toMillis(), id -> vertx.executeBlocking(this::ask, false));
    }

    private Void ask() {
        try {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) period.toMillis())).nodes()
                    .get(period.toMillis(), TimeUnit.MILLISECONDS);
            lastAnswerNanos = System.nanoTime();
            if (reported) {
                LOG.info("Kafka answers again; ready");
                reported = false;
            }
        } catch (Exception e) {
            if (!reachable() && !reported) {
                LOG.warn("Kafka has not answered for {}: not ready until it does ({})", grace, e.toString());
                reported = true;
            }
        }
        return null;
    }

    /** An answer came within the grace period. */
    boolean reachable() {
        return System.nanoTime() - lastAnswerNanos < grace.toNanos();
    }

    @Override
    public void close() {
        vertx.cancelTimer(timer);
        admin.close(Duration.ofSeconds(1));
    }
}
