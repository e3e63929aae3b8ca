package org.llmattrib.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.gateway.Examples;
import org.llmattrib.gateway.Gateway;
import org.llmattrib.gateway.GatewayClient;
import org.llmattrib.gateway.GatewayConfig;
import org.llmattrib.llama.Precision;
import org.llmattrib.llama.TinyLlama;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The whole pipeline in one process: an embedded KRaft broker, a worker, the HTTP gateway with its
 * dashboard, and the seed notebook's requests submitted through the gateway, their results shown
 * as they stream in; then it keeps serving the dashboard until Ctrl-C.
 */
@Command(name = "demo", description = "Embedded broker + worker + gateway/dashboard; the seed notebook's requests, "
        + "streamed live; serves until Ctrl-C.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--model", description = "a Hugging Face Llama directory; default: a tiny random checkpoint")
    Path model;

    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}")
    String device;

    @Option(names = "--dtype", defaultValue = "${env:DTYPE:-float32}", description = "the model's type: float32,"
            + " bfloat16 or float16 (default: ${DEFAULT-VALUE})")
    Precision dtype;

    @Option(names = "--tokenizer", defaultValue = "${env:ATTRIB_TOKENIZER:-.cache/tokenizer/llama3/tokenizer.json}",
            description = "tokenizer.json for the tiny checkpoint (default: ${DEFAULT-VALUE}, fetched by the build)")
    Path tokenizer;

    @Mixin
    LimitOptions limitOptions;

    @Option(names = "--port", defaultValue = "8080", description = "the dashboard's port (default ${DEFAULT-VALUE};"
            + " 0: any free port, printed at start)")
    int port;

    @Mixin
    LogOptions logOptions;

    @Option(names = "--once", description = "exit after the seed requests instead of serving until Ctrl-C")
    boolean once;

    @Override
    public Integer call() throws Exception {
        Path log = logOptions.apply(LogOptions.Default.FILE);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics();
            GatewayConfig config = GatewayConfig.local(kafka.bootstrapServers()).withPort(port);
            try (Gateway gateway = Ports.listen("the dashboard", config.host(), port, "--port", () -> Gateway.start(config))) {
                System.out.println("dashboard: " + gateway.url() + "   (open it in a browser; the jobs appear live)");
                System.out.println("broker: " + kafka.bootstrapServers());
                System.out.println(log == null ? "log: on stderr" : "log: " + log.toAbsolutePath()
                        + " (--verbose: on stderr instead)");
                Path dir = model != null ? model : tinyCheckpoint();
                try (AttributionWorker worker = AttributionWorker.start(workerSettings(kafka.bootstrapServers(), dir))) {
                    System.out.println("worker " + worker.workerId() + " ready; metrics on http://127.0.0.1:"
                            + worker.metricsPort() + "/metrics");
                    gateway.awaitReady(Duration.ofSeconds(30));
                    int failed = runSeeds(new GatewayClient(URI.create(gateway.url()), null), gateway.url());
                    if (once) {
                        return failed == 0 ? 0 : 1;
                    }
                    System.out.println("\nserving " + gateway.url() + " until Ctrl-C");
                    new CountDownLatch(1).await();
                    return 0;
                }
            }
        }
    }

    /** The demo's worker: this command's device, type and limits. */
    AttributionWorker.Settings workerSettings(String bootstrap, Path dir) {
        return new AttributionWorker.Settings(bootstrap, dir, device, "attribution-workers", "demo-worker", 0, null,
                limitOptions.limits(device), Map.of(), QueueMode.SHARE, 3).withDtype(dtype);
    }

    private Path tinyCheckpoint() {
        Path dir = TinyLlama.demoCheckpoint(tokenizer);
        System.out.println("""
                ************************************************************************
                * No --model given: using a tiny Llama-architecture checkpoint with    *
                * RANDOM weights and the real Llama 3 tokenizer. The pipeline is real, *
                * the numbers are meaningless. Pass --model /path/to/Llama-3.2-1B for  *
                * attributions that mean something.                                    *
                ************************************************************************""");
        return dir;
    }

    /** Posts each seed request to the gateway and follows its events; returns how many did not complete. */
    private static int runSeeds(GatewayClient client, String url) throws IOException, InterruptedException {
        int failed = 0;
        for (String name : Examples.SEED_REQUESTS) {
            String jobId = name + "-" + Long.toHexString(System.nanoTime());
            System.out.println("\n=== " + name + " === " + url + "jobs/" + jobId);
            HttpResponse<String> posted = client.submit(Examples.request(name, jobId));
            if (posted.statusCode() != 202) {
                System.out.println("refused: HTTP " + posted.statusCode() + " " + posted.body());
                failed++;
                continue;
            }
            EventView view = new EventView(System.out, 0);
            AttributionEvent[] last = new AttributionEvent[1];
            client.events(jobId, -1, sse -> {
                last[0] = Protocol.decodeEvent(sse.data().getBytes(StandardCharsets.UTF_8));
                view.accept(last[0]);
            });
            failed += last[0] instanceof AttributionEvent.Completed ? 0 : 1;
        }
        return failed;
    }
}
