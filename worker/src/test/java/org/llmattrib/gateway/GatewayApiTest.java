package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.llmattrib.gateway.GatewayClient.Sse;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Control;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.EmbeddedKafka;

/**
 * The gateway's HTTP API against a real broker (in this JVM) and real HTTP. Events come from a
 * {@link FakeWorker}, so a test decides exactly where a job stands; the browser test runs a real worker.
 */
class GatewayApiTest {
    static final long MAX_BODY = 64 * 1024;
    static EmbeddedKafka kafka;
    static FakeWorker results;
    static Gateway gateway;
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws InterruptedException {
        kafka = EmbeddedKafka.start(0, Map.of());
        kafka.createServiceTopics(3);
        results = new FakeWorker(kafka.bootstrapServers());
        gateway = startGateway(GatewayConfig.local(kafka.bootstrapServers()).withLimits(MAX_BODY, 1000));
    }

    @AfterAll
    static void stop() {
        gateway.close();
        results.close();
        kafka.close();
    }

    static Gateway startGateway(GatewayConfig config) throws InterruptedException {
        Gateway g = Gateway.start(config);
        assertThat(g.awaitReady(Duration.ofSeconds(30))).as("gateway ready").isTrue();
        return g;
    }

    /** A request with {@code headers} (name, value, ...); a body goes as JSON unless they name a Content-Type. */
    static HttpResponse<String> send(Gateway g, String method, String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(g.url()).resolve(path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        boolean typed = false;
        for (int i = 0; i < headers.length; i += 2) {
            typed |= headers[i].equalsIgnoreCase("Content-Type");
        }
        if (body != null && !typed) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The gateway's own origin, as a browser showing its dashboard sends it. */
    static String origin(Gateway g) {
        return "http://127.0.0.1:" + g.port();
    }

    static JsonNode json(HttpResponse<String> response) throws IOException {
        return Protocol.JSON.readTree(response.body());
    }

    static String example(String jobId) throws IOException {
        ObjectNode node = (ObjectNode) Examples.read("seed-template-shapley");
        node.put("job_id", jobId);
        return Protocol.JSON.writeValueAsString(node);
    }

    static List<String> requestKeys() {
        return results.readAll(Protocol.REQUESTS_TOPIC).stream().map(ConsumerRecord::key).toList();
    }

    @Test
    void invalidRequestsGet400NamingTheFieldAndNothingIsProduced() throws Exception {
        String valid = example("bad-request");
        assertError(send(gateway, "POST", "/v1/jobs", valid.replace("\"method\"", "\"colour\": \"red\", \"method\"")),
                400, "invalid_request", "colour");
        ObjectNode noMethod = (ObjectNode) Protocol.JSON.readTree(valid);
        noMethod.remove("method");
        assertError(send(gateway, "POST", "/v1/jobs", noMethod.toString()), 400, "invalid_request", "method");
        assertError(send(gateway, "POST", "/v1/jobs", valid.replace("\"shapley_values\"", "42")), 400,
                "invalid_request", "method.name");
        assertError(send(gateway, "POST", "/v1/jobs", valid.replace("attribution-request/v1", "attribution-request/v9")),
                400, "unsupported_schema", "schema");
        assertError(send(gateway, "POST", "/v1/jobs", "{\"schema\": "), 400, "malformed_json", null);
        // what another JSON reader could take for a different request
        HttpResponse<String> trailing = send(gateway, "POST", "/v1/jobs", valid + " {\"job_id\":\"x\"} garbage");
        assertError(trailing, 400, "malformed_json", null);
        assertThat(json(trailing).get("message").asText()).contains("Trailing token");
        HttpResponse<String> twice = send(gateway, "POST", "/v1/jobs", valid.replace("\"method\"",
                "\"job_id\":\"bad-request-2\",\"method\""));
        assertError(twice, 400, "malformed_json", null);
        assertThat(json(twice).get("message").asText()).contains("Duplicate field 'job_id'");
        assertThat(requestKeys()).doesNotContain("bad-request", "bad-request-2", "x");
        assertError(send(gateway, "GET", "/v1/jobs/bad-request", null), 404, "not_found", null);
    }

    @Test
    void aBodyAboveTheLimitGets413() throws Exception {
        ObjectNode big = (ObjectNode) Protocol.JSON.readTree(example("too-big"));
        big.put("model", "x".repeat((int) MAX_BODY));
        assertError(send(gateway, "POST", "/v1/jobs", big.toString()), 413, "payload_too_large", null);
        assertThat(requestKeys()).doesNotContain("too-big");
    }

    @Test
    void postingProducesOnceKeyedByJobIdAndRepostingIsIdempotent() throws Exception {
        HttpResponse<String> first = send(gateway, "POST", "/v1/jobs", example("post-once"));
        assertThat(first.statusCode()).isEqualTo(202);
        assertThat(json(first).get("job_id").asText()).isEqualTo("post-once");
        assertThat(json(first).get("status_url").asText()).isEqualTo("/v1/jobs/post-once");
        assertThat(json(first).get("events_url").asText()).isEqualTo("/v1/jobs/post-once/events");
        HttpResponse<String> again = send(gateway, "POST", "/v1/jobs", example("post-once"));
        assertThat(again.statusCode()).isEqualTo(202);
        assertThat(again.body()).isEqualTo(first.body());
        assertThat(requestKeys()).containsOnlyOnce("post-once");
        ConsumerRecord<String, byte[]> produced = results.readAll(Protocol.REQUESTS_TOPIC).stream()
                .filter(r -> r.key().equals("post-once")).findFirst().orElseThrow();
        assertThat(Protocol.decodeRequest(produced.value()).method().name()).isEqualTo("shapley_values");
        assertThat(json(send(gateway, "GET", "/v1/jobs/post-once", null)).get("status").asText()).isEqualTo("queued");

        ObjectNode anonymous = (ObjectNode) Protocol.JSON.readTree(example("x"));
        anonymous.remove("job_id");
        HttpResponse<String> generated = send(gateway, "POST", "/v1/jobs", anonymous.toString());
        assertThat(generated.statusCode()).isEqualTo(202);
        String id = json(generated).get("job_id").asText();
        assertThat(id).startsWith("job-");
        assertThat(requestKeys()).contains(id);
    }

    @Test
    void aJobIdIsTheJobTheSameRequestIsThatJobAnotherIsRefusedAFailedIdIsUsedAgain() throws Exception {
        String request = example("reused");
        assertThat(send(gateway, "POST", "/v1/jobs", request).statusCode()).isEqualTo(202);
        // the same request formatted otherwise: that job, nothing produced
        String reformatted = Protocol.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(Protocol.JSON.readTree(request));
        assertThat(send(gateway, "POST", "/v1/jobs", reformatted).statusCode()).isEqualTo(202);
        String other = request.replace("\"num_trials\": 3", "\"num_trials\": 2").replace("\"num_trials\":3",
                "\"num_trials\":2");
        assertThat(other).isNotEqualTo(request);
        assertError(send(gateway, "POST", "/v1/jobs", other), 409, "duplicate_job_id", "job_id");
        assertThat(requestKeys()).containsOnlyOnce("reused");

        // known from the topics only (posted elsewhere): the workers' record says which request owns it
        String elsewhere = example("posted-elsewhere");
        results.publishOwner(org.llmattrib.protocol.JobStatus.of("posted-elsewhere", org.llmattrib.protocol.JobStatus
                .requestHash(Protocol.decodeRequest(elsewhere.getBytes())), "attribution.requests/0@0", "w",
                org.llmattrib.protocol.JobStatus.State.COMPLETED));
        results.publish(FakeWorker.accepted("posted-elsewhere"), FakeWorker.token("posted-elsewhere", 0),
                FakeWorker.token("posted-elsewhere", 1), FakeWorker.completed("posted-elsewhere"));
        await().atMost(Duration.ofSeconds(10)).until(() -> send(gateway, "GET", "/v1/jobs/posted-elsewhere", null)
                .statusCode() == 200);
        assertThat(send(gateway, "POST", "/v1/jobs", elsewhere).statusCode()).isEqualTo(202);
        assertError(send(gateway, "POST", "/v1/jobs", elsewhere.replace("\"Dave\"", "\"Eve\"")), 409,
                "duplicate_job_id", "job_id");
        assertThat(requestKeys()).doesNotContain("posted-elsewhere");

        // failed: posted again, it runs again and the gateway shows the new run, restarted or not
        results.publish(new AttributionEvent.Failed(AttributionEvent.SCHEMA, "failed-once", 0, "cancelled",
                "cancelled by request", null));
        await().atMost(Duration.ofSeconds(10)).until(() -> send(gateway, "GET", "/v1/jobs/failed-once", null)
                .statusCode() == 200);
        assertThat(send(gateway, "POST", "/v1/jobs", example("failed-once")).statusCode()).isEqualTo(202);
        assertThat(requestKeys()).containsOnlyOnce("failed-once");
        assertThat(json(send(gateway, "GET", "/v1/jobs/failed-once", null)).get("status").asText()).isEqualTo("queued");
        results.publish(FakeWorker.accepted("failed-once"));
        await().atMost(Duration.ofSeconds(10)).until(() -> json(send(gateway, "GET", "/v1/jobs/failed-once", null))
                .get("status").asText().equals("running"));
        try (Gateway restarted = startGateway(GatewayConfig.local(kafka.bootstrapServers()))) {
            assertThat(json(send(restarted, "GET", "/v1/jobs/failed-once", null)).get("status").asText())
                    .isEqualTo("running");
        }
    }

    @Test
    void eventsStreamLiveEachSeqOnceThenResumeAfterLastEventId() throws Exception {
        String job = "sse-job";
        results.publish(FakeWorker.accepted(job), FakeWorker.token(job, 0));
        await().atMost(Duration.ofSeconds(10)).until(() -> send(gateway, "GET", "/v1/jobs/" + job, null)
                .statusCode() == 200);
        List<Sse> streamed = new CopyOnWriteArrayList<>();
        CompletableFuture<Integer> done = streamInBackground(gateway, job, streamed);
        await().atMost(Duration.ofSeconds(10)).until(() -> streamed.size() == 2);
        assertThat(done).isNotDone();
        // a rerun after a worker crash repeats seq 0 and 1: each seq is streamed once
        results.publish(FakeWorker.accepted(job), FakeWorker.token(job, 0), FakeWorker.token(job, 1),
                FakeWorker.completed(job));
        assertThat(done.get(30, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(streamed).extracting(Sse::id).containsExactly("0", "1", "2", "3");
        assertThat(streamed).extracting(Sse::event).containsExactly("accepted", "token", "token", "completed");
        assertThat(streamed).extracting(Sse::data).containsExactly(Protocol.toJson(FakeWorker.accepted(job)),
                Protocol.toJson(FakeWorker.token(job, 0)), Protocol.toJson(FakeWorker.token(job, 1)),
                Protocol.toJson(FakeWorker.completed(job)));

        List<Sse> resumed = new ArrayList<>();
        assertThat(new GatewayClient(URI.create(gateway.url()), null).events(job, 1, resumed::add)).isEqualTo(200);
        assertThat(resumed).extracting(Sse::id).containsExactly("2", "3");
        HttpResponse<String> byQuery = send(gateway, "GET", "/v1/jobs/" + job + "/events?last_event_id=2", null);
        assertThat(byQuery.headers().firstValue("content-type")).hasValueSatisfying(v -> v.startsWith("text/event-stream"));
        assertThat(byQuery.body()).isEqualTo("id: 3\nevent: completed\ndata: " + Protocol.toJson(FakeWorker.completed(job))
                + "\n\n");

        JsonNode view = json(send(gateway, "GET", "/v1/jobs/" + job, null));
        assertThat(view.get("status").asText()).isEqualTo("completed");
        assertThat(view.get("features")).hasSize(3);
        for (int t = 0; t < 2; t++) {
            for (int f = 0; f < 3; f++) {
                assertThat(view.get("token_attr").get(t).get(f).asDouble())
                        .isEqualTo(FakeWorker.token(job, t).attr().get(f));
            }
        }
        assertThat(view.get("token_attr").get(0).get(0).asDouble()).isEqualTo(0.30000000000000004);
        assertThat(view.get("seq_attr").get(2).asDouble()).isEqualTo(24691.357802469134);
        assertThat(view.get("output_tokens").toString()).isEqualTo("[\" playing\",\" golf\"]");
        assertThat(view.get("timings").get("total_ms").asDouble()).isEqualTo(3.5);
        assertThat(view.get("events").asInt()).isEqualTo(4);
    }

    @Test
    void unknownJobsAre404AndAFailedJobShowsItsError() throws Exception {
        assertError(send(gateway, "GET", "/v1/jobs/nobody", null), 404, "not_found", null);
        assertError(send(gateway, "GET", "/v1/jobs/nobody/events", null), 404, "not_found", null);
        assertError(send(gateway, "DELETE", "/v1/jobs/nobody", null), 404, "not_found", null);
        results.publish(new AttributionEvent.Failed(AttributionEvent.SCHEMA, "cancelled-job", 0, "cancelled",
                "cancelled by request", null), new AttributionEvent.Failed(AttributionEvent.SCHEMA, "failed-job", 0,
                "unknown_layer", "unknown layer 'x'", "layers[0]"));
        await().atMost(Duration.ofSeconds(10)).until(() -> send(gateway, "GET", "/v1/jobs/failed-job", null)
                .statusCode() == 200);
        JsonNode failed = json(send(gateway, "GET", "/v1/jobs/failed-job", null));
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").get("field").asText()).isEqualTo("layers[0]");
        await().atMost(Duration.ofSeconds(10)).until(() -> send(gateway, "GET", "/v1/jobs/cancelled-job", null)
                .statusCode() == 200);
        assertThat(json(send(gateway, "GET", "/v1/jobs/cancelled-job", null)).get("status").asText())
                .isEqualTo("cancelled");
    }

    @Test
    void deleteSendsACancelOnTheControlTopic() throws Exception {
        assertThat(send(gateway, "POST", "/v1/jobs", example("to-cancel")).statusCode()).isEqualTo(202);
        HttpResponse<String> cancel = send(gateway, "DELETE", "/v1/jobs/to-cancel", null);
        assertThat(cancel.statusCode()).isEqualTo(202);
        List<Control> controls = results.readAll(Protocol.CONTROL_TOPIC).stream()
                .filter(r -> r.key().equals("to-cancel")).map(r -> Protocol.decodeControl(r.value())).toList();
        assertThat(controls).containsExactly(Control.cancel("to-cancel"));
    }

    @Test
    void aRestartedGatewayAndASecondReplicaServeAJobIdentically() throws Exception {
        String job = "restart-job";
        Gateway first = startGateway(GatewayConfig.local(kafka.bootstrapServers()));
        results.publish(FakeWorker.accepted(job), FakeWorker.token(job, 0));
        await().atMost(Duration.ofSeconds(10)).until(() -> json(send(first, "GET", "/v1/jobs/" + job, null))
                .path("token_attr").size() == 1);
        first.close(); // killed mid-job
        // the worker crashed too: its rerun repeats seq 0 and 1, then goes on
        results.publish(FakeWorker.accepted(job), FakeWorker.token(job, 0), FakeWorker.token(job, 1));
        try (Gateway restarted = startGateway(GatewayConfig.local(kafka.bootstrapServers()));
                Gateway replica = startGateway(GatewayConfig.local(kafka.bootstrapServers()))) {
            CompletableFuture<List<Sse>> live = CompletableFuture.supplyAsync(() -> events(restarted, job));
            assertThat(json(send(restarted, "GET", "/v1/jobs/" + job, null)).get("status").asText()).isEqualTo("running");
            results.publish(FakeWorker.completed(job));
            List<Sse> fromRestarted = live.get(30, TimeUnit.SECONDS);
            assertThat(fromRestarted).extracting(Sse::id).containsExactly("0", "1", "2", "3");
            assertThat(events(replica, job)).isEqualTo(fromRestarted);
            String view = send(restarted, "GET", "/v1/jobs/" + job, null).body();
            assertThat(json(send(restarted, "GET", "/v1/jobs/" + job, null)).get("status").asText())
                    .isEqualTo("completed");
            assertThat(send(replica, "GET", "/v1/jobs/" + job, null).body()).isEqualTo(view);
        }
    }

    @Test
    void aBearerTokenGuardsV1ButNotHealthOrTheDashboard() throws Exception {
        try (Gateway guarded = startGateway(GatewayConfig.local(kafka.bootstrapServers()).withToken("s3cret"))) {
            HttpResponse<String> none = send(guarded, "GET", "/v1/jobs", null);
            assertError(none, 401, "unauthorized", null);
            assertThat(none.headers().firstValue("www-authenticate")).hasValue("Bearer");
            assertError(send(guarded, "GET", "/v1/jobs", null, "Authorization", "Bearer s3cre"), 401, "unauthorized",
                    null);
            assertError(send(guarded, "POST", "/v1/jobs", example("unauthorized-post")), 401, "unauthorized", null);
            assertThat(send(guarded, "GET", "/v1/jobs", null, "Authorization", "Bearer s3cret").statusCode())
                    .isEqualTo(200);
            assertThat(send(guarded, "GET", "/health/ready", null).statusCode()).isEqualTo(200);
            assertThat(send(guarded, "GET", "/", null).body()).contains("llm-attrib dashboard");
        }
        assertThat(requestKeys()).doesNotContain("unauthorized-post");
    }

    @Test
    void corsIsOffUnlessAnOriginIsConfiguredAndThatOriginMayPostAndDelete() throws Exception {
        String notebook = "http://notebook.example";
        String[] preflight = {"Origin", notebook, "Access-Control-Request-Method", "POST"};
        assertThat(send(gateway, "OPTIONS", "/v1/jobs", null, preflight).headers()
                .firstValue("access-control-allow-origin")).isEmpty();
        assertThatThrownBy(() -> Gateway.start(GatewayConfig.local(kafka.bootstrapServers())
                .withCorsOrigin("notebook.example"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--cors-origin 'notebook.example'").hasMessageContaining("scheme://host[:port]");
        // given with a trailing slash, answered as browsers compare it: without
        try (Gateway open = startGateway(GatewayConfig.local(kafka.bootstrapServers()).withCorsOrigin(notebook + "/"))) {
            assertThat(send(open, "OPTIONS", "/v1/jobs", null, preflight).headers()
                    .firstValue("access-control-allow-origin")).hasValue(notebook);
            HttpResponse<String> posted = send(open, "POST", "/v1/jobs", example("from-notebook"), "Origin", notebook,
                    "Sec-Fetch-Site", "cross-site");
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            assertThat(posted.headers().firstValue("access-control-allow-origin")).hasValue(notebook);
            assertThat(send(open, "DELETE", "/v1/jobs/from-notebook", null, "Origin", notebook, "Sec-Fetch-Site",
                    "cross-site").statusCode()).isEqualTo(202);
            // the gateway's own dashboard still works next to the configured origin; other sites do not
            assertThat(send(open, "POST", "/v1/jobs", example("from-its-dashboard"), "Origin", origin(open),
                    "Sec-Fetch-Site", "same-origin").statusCode()).isEqualTo(202);
            assertError(send(open, "POST", "/v1/jobs", example("from-elsewhere"), "Origin", "http://evil.example",
                    "Sec-Fetch-Site", "cross-site"), 403, "cross_site_request", null);
            assertError(send(open, "GET", "/v1/jobs", null, "Origin", "http://evil.example"), 403,
                    "cross_site_request", null);
        }
        assertThat(requestKeys()).contains("from-notebook", "from-its-dashboard").doesNotContain("from-elsewhere");
    }

    @Test
    void onlyJsonIsAcceptedOnPostAnythingABrowserSendsWithoutPreflightIs415() throws Exception {
        String body = example("not-json-typed");
        for (String type : List.of("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x", "application/jsonp")) {
            HttpResponse<String> refused = send(gateway, "POST", "/v1/jobs", body, "Content-Type", type);
            assertError(refused, 415, "unsupported_media_type", null);
            assertThat(json(refused).get("message").asText()).contains(type).contains("application/json");
        }
        HttpResponse<String> untyped = http.send(HttpRequest.newBuilder(URI.create(gateway.url()).resolve("/v1/jobs"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertError(untyped, 415, "unsupported_media_type", null);
        try (Gateway guarded = startGateway(GatewayConfig.local(kafka.bootstrapServers()).withToken("s3cret"))) {
            assertError(send(guarded, "POST", "/v1/jobs", body, "Content-Type", "text/plain", "Authorization",
                    "Bearer s3cret"), 415, "unsupported_media_type", null);
        }
        assertThat(requestKeys()).doesNotContain("not-json-typed");
        assertThat(send(gateway, "POST", "/v1/jobs", example("json-with-charset"), "Content-Type",
                "application/json; charset=utf-8").statusCode()).isEqualTo(202);
        assertThat(requestKeys()).contains("json-with-charset");
    }

    @Test
    void aPageOnAnotherSiteCanNeitherPostNorDeleteWithOrWithoutAToken() throws Exception {
        assertThat(send(gateway, "POST", "/v1/jobs", example("victim"), "Origin", origin(gateway), "Sec-Fetch-Site",
                "same-origin").statusCode()).as("the dashboard's own page").isEqualTo(202);
        List<String[]> crossSite = List.of(new String[] {"Origin", "http://evil.example"},
                new String[] {"Origin", "null"},
                new String[] {"Origin", "http://127.0.0.1:1"}, // another port: another origin
                new String[] {"Origin", "https://127.0.0.1:" + gateway.port()}, // another scheme
                new String[] {"Sec-Fetch-Site", "cross-site"},
                new String[] {"Sec-Fetch-Site", "same-site"},
                new String[] {"Origin", origin(gateway), "Sec-Fetch-Site", "cross-site"});
        for (String[] headers : crossSite) {
            HttpResponse<String> post = send(gateway, "POST", "/v1/jobs", example("cross-site-post"), headers);
            assertError(post, 403, "cross_site_request", null);
            assertThat(json(post).get("message").asText()).as(String.join(" ", headers))
                    .contains(headers[headers.length - 1]);
            assertError(send(gateway, "DELETE", "/v1/jobs/victim", null, headers), 403, "cross_site_request", null);
        }
        try (Gateway guarded = startGateway(GatewayConfig.local(kafka.bootstrapServers()).withToken("s3cret"))) {
            String[] withToken = {"Authorization", "Bearer s3cret", "Origin", "http://evil.example"};
            assertError(send(guarded, "POST", "/v1/jobs", example("cross-site-post"), withToken), 403,
                    "cross_site_request", null);
            assertError(send(guarded, "DELETE", "/v1/jobs/victim", null, withToken), 403, "cross_site_request", null);
            assertThat(send(guarded, "GET", "/v1/jobs", null, withToken).statusCode())
                    .as("reading is not state-changing (and CORS keeps its answer from the page)").isEqualTo(200);
        }
        assertThat(requestKeys()).doesNotContain("cross-site-post");
        assertThat(results.readAll(Protocol.CONTROL_TOPIC)).extracting(ConsumerRecord::key).doesNotContain("victim");
        // no Origin, no Sec-Fetch-Site (curl, pipelines) or a same-origin page: as before
        assertThat(send(gateway, "DELETE", "/v1/jobs/victim", null, "Origin", origin(gateway), "Sec-Fetch-Site",
                "same-origin").statusCode()).isEqualTo(202);
        assertThat(send(gateway, "DELETE", "/v1/jobs/victim", null, "Sec-Fetch-Site", "none").statusCode())
                .isEqualTo(202);
        assertThat(results.readAll(Protocol.CONTROL_TOPIC)).extracting(ConsumerRecord::key).contains("victim");
    }

    @Test
    void readyMeansTheTopicIsReadToItsEndAndOnlyTheNewestJobsAreHeld() throws Exception {
        // one millisecond apart: jobs first seen in the same millisecond would be ordered by id
        long start = System.currentTimeMillis() - 1000;
        for (int i = 0; i < 300; i++) {
            results.publishAt(start + i, FakeWorker.accepted("many-" + i), FakeWorker.token("many-" + i, 0));
        }
        try (Gateway small = Gateway.start(GatewayConfig.local(kafka.bootstrapServers()).withLimits(MAX_BODY, 100))) {
            await().atMost(Duration.ofSeconds(30)).until(() -> send(small, "GET", "/health/ready", null)
                    .statusCode() == 200);
            // ready: everything published before the start has been read
            assertThat(json(send(small, "GET", "/v1/jobs/many-299", null)).get("token_attr")).hasSize(1);
            assertThat(send(small, "GET", "/v1/jobs/many-0", null).statusCode()).isEqualTo(404);
            JsonNode list = json(send(small, "GET", "/v1/jobs?limit=1000", null));
            assertThat(list).hasSize(100);
            assertThat(list.get(0).get("job_id").asText()).isEqualTo("many-299");
            assertThat(json(send(small, "GET", "/v1/jobs?limit=5", null))).hasSize(5);
            assertError(send(small, "GET", "/v1/jobs?limit=0", null), 400, "invalid_request", "limit");
            String metrics = send(small, "GET", "/metrics", null).body();
            assertThat(metrics).contains("gateway_jobs 100.0").contains("gateway_ready 1.0")
                    .contains("gateway_events_total");
        }
    }

    @Test
    void untilTheResultsTopicIsReadTheGatewayIsNotReadyAndRefusesToSubmit() throws Exception {
        try (EmbeddedKafka empty = EmbeddedKafka.start(0, Map.of());
                Gateway waiting = Gateway.start(GatewayConfig.local(empty.bootstrapServers()))) {
            // no results topic yet: the consumer cannot be assigned
            Thread.sleep(1500);
            assertThat(send(waiting, "GET", "/health/ready", null).statusCode()).isEqualTo(503);
            assertError(send(waiting, "POST", "/v1/jobs", example("too-early")), 503, "not_ready", null);
            empty.createServiceTopics(3);
            await().atMost(Duration.ofSeconds(30)).until(() -> send(waiting, "GET", "/health/ready", null)
                    .statusCode() == 200);
            assertThat(send(waiting, "POST", "/v1/jobs", example("in-time")).statusCode()).isEqualTo(202);
        }
    }

    @Test
    void everyResponseForbidsFramingSniffingAndScriptFromAnywhereButTheGateway() throws Exception {
        List<HttpResponse<String>> responses = List.of(send(gateway, "GET", "/", null),
                send(gateway, "GET", "/jobs/some-job", null), send(gateway, "GET", "/dashboard.js", null),
                send(gateway, "GET", "/v1/jobs", null), send(gateway, "GET", "/v1/jobs/nobody", null),
                send(gateway, "POST", "/v1/jobs", "{"), send(gateway, "GET", "/health/ready", null),
                send(gateway, "GET", "/no-such-file", null));
        for (HttpResponse<String> r : responses) {
            String what = r.request().method() + " " + r.uri().getPath() + " " + r.statusCode();
            String csp = r.headers().firstValue("content-security-policy").orElse("");
            assertThat(csp).as(what).contains("default-src 'none'", "script-src 'self'", "style-src 'self'",
                    "frame-ancestors 'none'").doesNotContain("unsafe-inline", "unsafe-eval");
            assertThat(r.headers().firstValue("x-frame-options")).as(what).hasValue("DENY");
            assertThat(r.headers().firstValue("x-content-type-options")).as(what).hasValue("nosniff");
        }
        // the page needs no inline script or style: its own files only
        String page = responses.get(0).body();
        assertThat(page).contains("<script src=\"/dashboard.js\"></script>", "href=\"/dashboard.css\"")
                .doesNotContain("<style", "style=", "<script>");
        assertThat(send(gateway, "GET", "/dashboard.css", null).headers().firstValue("content-type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/css"));
    }

    @Test
    void openApiDescribesTheApi() throws Exception {
        JsonNode doc = json(send(gateway, "GET", "/openapi.json", null));
        assertThat(doc.get("openapi").asText()).isEqualTo("3.1.0");
        assertThat(doc.get("paths").fieldNames()).toIterable().contains("/v1/jobs", "/v1/jobs/{id}",
                "/v1/jobs/{id}/events", "/health/ready", "/metrics");
        assertThat(doc.at("/paths/~1v1~1jobs/post/responses").fieldNames()).toIterable()
                .contains("202", "400", "403", "409", "413", "415", "503");
        assertThat(doc.at("/paths/~1v1~1jobs~1{id}/delete/responses").fieldNames()).toIterable().contains("403");
        assertThat(send(gateway, "GET", "/health/live", null).statusCode()).isEqualTo(200);
    }

    static List<Sse> events(Gateway g, String job) {
        try {
            return new GatewayClient(URI.create(g.url()), null).events(job);
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static void assertError(HttpResponse<String> response, int status, String code, String field) throws IOException {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        JsonNode body = json(response);
        assertThat(body.get("code").asText()).isEqualTo(code);
        assertThat(body.get("message").asText()).isNotBlank();
        if (field == null) {
            assertThat(body.get("field").isNull()).as("field of " + body).isTrue();
        } else {
            assertThat(body.get("field").asText()).isEqualTo(field);
        }
    }

    /** Follows a job's events from the start on another thread, into {@code into}; completes with the HTTP status. */
    static CompletableFuture<Integer> streamInBackground(Gateway g, String job, List<Sse> into) {
        GatewayClient client = new GatewayClient(URI.create(g.url()), null);
        return CompletableFuture.supplyAsync(() -> {
            try {
                return client.events(job, -1, into::add);
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }
}
