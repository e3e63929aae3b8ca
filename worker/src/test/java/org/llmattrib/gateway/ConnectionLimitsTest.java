package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.gateway.GatewayClient.Sse;
import org.llmattrib.service.EmbeddedKafka;

/** What idle, slow or numerous clients can hold of the gateway, with real sockets. */
public class ConnectionLimitsTest {
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

    static Gateway gateway(ConnectionLimits limits) throws InterruptedException {
        return GatewayApiTest.startGateway(GatewayConfig.local(kafka.bootstrapServers()).withConnections(limits));
    }

    static Socket connect(Gateway g) throws IOException {
        Socket s = new Socket("127.0.0.1", g.port());
        s.setSoTimeout(10_000);
        return s;
    }

    /** Reads until the server closes the connection; how long that took. */
    public static Duration untilClosed(Socket s) throws IOException {
        long start = System.nanoTime();
        InputStream in = s.getInputStream();
        try {
            while (in.read() >= 0) {
                // whatever the server answered before closing
            }
        } catch (SocketException e) {
            // reset: closed too
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    public static String liveCheck(Socket s) throws IOException {
        s.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        byte[] head = new byte[12];
        int n = s.getInputStream().readNBytes(head, 0, head.length);
        return new String(head, 0, n, StandardCharsets.US_ASCII);
    }

    @Test
    void connectionsBeyondTheCapAreClosedAtOnceAndIdleOnesAfterTheIdleTimeout() throws Exception {
        try (Gateway g = gateway(new ConnectionLimits(4, Duration.ofSeconds(1), Duration.ofSeconds(30)))) {
            List<Socket> held = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                held.add(connect(g));
                assertThat(liveCheck(held.get(i))).isEqualTo("HTTP/1.1 200");
            }
            try (Socket fifth = connect(g)) {
                assertThat(untilClosed(fifth)).isLessThan(Duration.ofMillis(500));
            }
            // silent both ways: closed after the idle timeout, long before the request timeout
            for (Socket s : held) {
                assertThat(untilClosed(s)).isLessThan(Duration.ofSeconds(3));
                s.close();
            }
            // the places are free again
            try (Socket again = connect(g)) {
                assertThat(liveCheck(again)).isEqualTo("HTTP/1.1 200");
            }
        }
    }

    @Test
    void aClientSendingItsHeadersOrBodyByTheByteIsCutOffAtTheRequestTimeout() throws Exception {
        try (Gateway g = gateway(new ConnectionLimits(1024, Duration.ofSeconds(30), Duration.ofMillis(1500)))) {
            String post = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n" + "{".repeat(1000);
            for (int headerBytes : new int[] {20, post.indexOf("\r\n\r\n") + 4}) {
                try (Socket s = connect(g)) {
                    OutputStream out = s.getOutputStream();
                    out.write(post.substring(0, headerBytes).getBytes(StandardCharsets.US_ASCII));
                    CompletableFuture<Duration> closed = CompletableFuture.supplyAsync(() -> {
                        try {
                            return untilClosed(s);
                        } catch (IOException e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    // one byte every 200 ms: never idle, never done
                    for (int i = headerBytes; i < post.length() && !closed.isDone(); i++) {
                        Thread.sleep(200);
                        try {
                            out.write(post.charAt(i));
                        } catch (SocketException e) {
                            break;
                        }
                    }
                    assertThat(closed.get(10, TimeUnit.SECONDS)).as("after %d bytes at once", headerBytes)
                            .isLessThan(Duration.ofSeconds(4));
                }
            }
            // a keep-alive connection gets the request timeout again for its next request
            try (Socket s = connect(g)) {
                assertThat(liveCheck(s)).isEqualTo("HTTP/1.1 200");
                assertThat(untilClosed(s)).isLessThan(Duration.ofSeconds(4));
            }
        }
    }

    @Test
    void anEventStreamOutlivesBothTimeouts() throws Exception {
        try (Gateway g = gateway(new ConnectionLimits(4, Duration.ofSeconds(1), Duration.ofSeconds(1)))) {
            String job = "long-stream";
            results.publish(FakeWorker.accepted(job));
            await().atMost(Duration.ofSeconds(10)).until(() -> GatewayApiTest.send(g, "GET", "/v1/jobs/" + job, null)
                    .statusCode() == 200);
            List<Sse> streamed = new CopyOnWriteArrayList<>();
            CompletableFuture<Integer> done = GatewayApiTest.streamInBackground(g, job, streamed);
            Thread.sleep(4000);
            assertThat(done).as("still streaming").isNotDone();
            results.publish(FakeWorker.token(job, 0), FakeWorker.token(job, 1), FakeWorker.completed(job));
            assertThat(done.get(30, TimeUnit.SECONDS)).isEqualTo(200);
            assertThat(streamed).extracting(Sse::id).containsExactly("0", "1", "2", "3");
        }
    }
}
