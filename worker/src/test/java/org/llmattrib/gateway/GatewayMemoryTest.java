package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.service.EmbeddedKafka;

/** What slow stream clients and large jobs can make the gateway hold. */
class GatewayMemoryTest {
    static EmbeddedKafka kafka;
    static FakeWorker results;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(3);
        results = new FakeWorker(kafka.bootstrapServers());
    }

    @AfterAll
    static void stop() {
        results.close();
        kafka.close();
    }

    /** A token event of about {@code bytes} bytes of JSON. */
    static AttributionEvent.Token bigToken(String jobId, int index, int bytes) {
        List<Double> attr = new ArrayList<>(Collections.nCopies(bytes / 20, 0.12345678901234567));
        return new AttributionEvent.Token(AttributionEvent.SCHEMA, jobId, index + 1, index, 1000 + index, " x", -1.0,
                attr, null, null, null);
    }

    static double metric(Gateway g, String name) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + name + "(\\{[^}]*\\})? (\\S+)$")
                .matcher(GatewayApiTest.send(g, "GET", "/metrics", null).body());
        return m.find() ? Double.parseDouble(m.group(2)) : Double.NaN;
    }

    @Test
    void aStreamWritesNoFasterThanItsClientReadsAndResumesWhenItDoes() throws Exception {
        String job = "slow-reader";
        int tokens = 100;
        results.publish(FakeWorker.accepted(job));
        for (int i = 0; i < tokens; i++) {
            results.publish(bigToken(job, i, 100_000));
        }
        AttributionEvent.Completed completed = new AttributionEvent.Completed(AttributionEvent.SCHEMA, job,
                tokens + 1, List.of(1.0, 2.0, 3.0), List.of(" x"), List.of(1L), null, Map.of(), Map.of());
        results.publish(completed);
        try (Gateway g = GatewayApiTest.startGateway(GatewayConfig.local(kafka.bootstrapServers())
                .withEvents(new EventLimits(64L << 20, 256L << 20)));
                Socket s = new Socket()) {
            s.setReceiveBufferSize(4096);
            s.connect(new java.net.InetSocketAddress("127.0.0.1", g.port()));
            s.setSoTimeout(20_000);
            s.getOutputStream().write(("GET /v1/jobs/" + job + "/events HTTP/1.1\r\nHost: x\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            // 10 MB to send, a client that takes nothing yet: the stream waits instead of queueing it all
            await().atMost(Duration.ofSeconds(20)).until(() -> metric(g, "gateway_event_streams_stalled") == 1.0);
            StringBuilder got = new StringBuilder();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[1 << 16];
            while (got.indexOf("event: completed") < 0) {
                int n = in.read(buf);
                assertThat(n).as("stream ended early").isPositive();
                got.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            }
            List<Long> ids = new ArrayList<>();
            Matcher m = Pattern.compile("(?m)^id: (\\d+)$").matcher(got);
            while (m.find()) {
                ids.add(Long.parseLong(m.group(1)));
            }
            assertThat(ids).hasSize(tokens + 2).isSorted().doesNotHaveDuplicates();
            assertThat(metric(g, "gateway_event_streams_stalled")).isEqualTo(0.0);
        }
    }

    @Test
    void aJobsEventsAreHeldUpToItsByteLimitAndOldJobsGoBeyondTheTotal() throws Exception {
        String job = "huge-job";
        results.publish(FakeWorker.accepted(job));
        for (int i = 0; i < 10; i++) {
            results.publish(bigToken(job, i, 10_000));
        }
        results.publish(new AttributionEvent.Completed(AttributionEvent.SCHEMA, job, 11, List.of(1.0, 2.0, 3.0),
                List.of(" x"), List.of(1L), null, Map.of(), Map.of()));
        try (Gateway g = GatewayApiTest.startGateway(GatewayConfig.local(kafka.bootstrapServers())
                .withEvents(new EventLimits(50_000, 120_000)))) {
            JsonNode view = GatewayApiTest.json(GatewayApiTest.send(g, "GET", "/v1/jobs/" + job, null));
            assertThat(view.get("status").asText()).isEqualTo("completed");
            assertThat(view.get("truncated").asBoolean()).isTrue();
            assertThat(view.get("token_attr").size()).isBetween(3, 5);
            assertThat(metric(g, "gateway_events_truncated_total")).isGreaterThan(0);

            for (String other : List.of("newer-1", "newer-2")) {
                results.publish(FakeWorker.accepted(other), bigToken(other, 0, 40_000));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> GatewayApiTest.send(g, "GET", "/v1/jobs/newer-2", null)
                    .statusCode() == 200);
            // 3 x about 45 KB: the oldest job went
            assertThat(GatewayApiTest.send(g, "GET", "/v1/jobs/" + job, null).statusCode()).isEqualTo(404);
            JsonNode newer = GatewayApiTest.json(GatewayApiTest.send(g, "GET", "/v1/jobs/newer-1", null));
            assertThat(newer.get("token_attr")).hasSize(1);
            assertThat(newer.has("truncated")).isFalse();
        }
    }
}
