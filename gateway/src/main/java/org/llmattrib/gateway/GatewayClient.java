package org.llmattrib.gateway;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A small Java client of the gateway's HTTP API (java.net.http): submit a request, read a job's
 * Server-Sent Events. The demo and the benchmark go through it; any HTTP client works the same way.
 */
public final class GatewayClient {
    /** One Server-Sent Event: {@code id} (the event's seq), {@code event} (its type) and {@code data} (its JSON). */
    public record Sse(String id, String event, String data) {}

    private final URI base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    /** @param base the gateway, e.g. {@code http://127.0.0.1:8080/}; @param token its bearer token, or null */
    public GatewayClient(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    /** {@code POST /v1/jobs}: the response as the gateway gave it (202 with links, or 400 with the error). */
    public HttpResponse<String> submit(byte[] json) throws IOException, InterruptedException {
        return http.send(request("v1/jobs").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * {@code GET /v1/jobs/{id}/events} after {@code lastEventId} (-1: from the start): feeds each event
     * to {@code onEvent} until the stream ends (after the job's terminal event). Returns the HTTP status.
     */
    public int events(String jobId, long lastEventId, Consumer<Sse> onEvent) throws IOException, InterruptedException {
        HttpRequest.Builder b = request("v1/jobs/" + jobId + "/events").header("Accept", "text/event-stream");
        if (lastEventId >= 0) {
            b.header("Last-Event-ID", Long.toString(lastEventId));
        }
        HttpResponse<Stream<String>> response = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
        try (Stream<String> lines = response.body()) {
            if (response.statusCode() == 200) {
                parse(lines.iterator(), onEvent);
            }
        }
        return response.statusCode();
    }

    /** All of a job's events, replayed and followed to its end. */
    public List<Sse> events(String jobId) throws IOException, InterruptedException {
        List<Sse> events = new ArrayList<>();
        int status = events(jobId, -1, events::add);
        if (status != 200) {
            throw new IOException("GET events of " + jobId + ": HTTP " + status);
        }
        return events;
    }

    private static void parse(Iterator<String> lines, Consumer<Sse> onEvent) {
        String id = null;
        String event = null;
        StringBuilder data = null;
        while (lines.hasNext()) {
            String line = lines.next();
            if (line.isEmpty()) {
                if (data != null) {
                    onEvent.accept(new Sse(id, event, data.toString()));
                }
                id = null;
                event = null;
                data = null;
            } else if (line.startsWith("id: ")) {
                id = line.substring(4);
            } else if (line.startsWith("event: ")) {
                event = line.substring(7);
            } else if (line.startsWith("data: ")) {
                data = data == null ? new StringBuilder(line.substring(6)) : data.append('\n').append(line.substring(6));
            }
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }
}
