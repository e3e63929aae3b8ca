package org.llmattrib.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.llmattrib.llama.TinyLlama;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.service.AttributionWorker;
import org.llmattrib.service.EmbeddedKafka;
import org.llmattrib.service.QueueMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The whole pipeline in one process: an embedded KRaft broker, a worker, and the seed notebook's
 * requests submitted through the client API, their results shown as they stream in.
 */
@Command(name = "demo", description = "Embedded broker + worker + the seed notebook's requests, streamed live.")
final class DemoCommand implements Callable<Integer> {
    static final List<String> SEED_REQUESTS = List.of("seed-token-feature-ablation", "seed-template-shapley",
            "seed-fewshot-segments", "seed-lig-embeddings", "seed-lig-multilayer");

    @Option(names = "--model", description = "a Hugging Face Llama directory; default: a tiny random checkpoint")
    Path model;

    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}")
    String device;

    @Option(names = "--tokenizer", defaultValue = "${env:ATTRIB_TOKENIZER:-.cache/tokenizer/llama3/tokenizer.json}",
            description = "tokenizer.json for the tiny checkpoint (default: ${DEFAULT-VALUE}, fetched by the build)")
    Path tokenizer;

    @Override
    public Integer call() throws IOException {
        Path dir = model;
        if (dir == null) {
            dir = TinyLlama.demoCheckpoint(tokenizer);
            System.out.println("""
                    ************************************************************************
                    * No --model given: using a tiny Llama-architecture checkpoint with    *
                    * RANDOM weights and the real Llama 3 tokenizer. The pipeline is real, *
                    * the numbers are meaningless. Pass --model /path/to/Llama-3.2-1B for  *
                    * attributions that mean something.                                    *
                    ************************************************************************""");
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, Map.of())) {
            kafka.createServiceTopics(3);
            System.out.println("broker: " + kafka.bootstrapServers());
            try (AttributionWorker worker = AttributionWorker.start(new AttributionWorker.Settings(kafka.bootstrapServers(),
                    dir, device, "attribution-workers", "demo-worker", 0, null, 4096, Map.of(),
                    QueueMode.SHARE, 3));
                    AttributionClient client = new AttributionClient(kafka.bootstrapServers())) {
                System.out.println("worker " + worker.workerId() + " ready; metrics on http://127.0.0.1:"
                        + worker.metricsPort() + "/metrics");
                int failed = 0;
                for (String name : SEED_REQUESTS) {
                    String jobId = name + "-" + Long.toHexString(System.nanoTime());
                    System.out.println("\n=== " + name + " ===");
                    var last = client.submitAndFollow(jobId, request(name, jobId), Duration.ofMinutes(30),
                            new EventView(System.out, 0));
                    failed += last instanceof org.llmattrib.protocol.AttributionEvent.Completed ? 0 : 1;
                }
                return failed == 0 ? 0 : 1;
            }
        }
    }

    static byte[] request(String name, String jobId) throws IOException {
        try (InputStream in = Protocol.class.getResourceAsStream("/examples/" + name + ".json")) {
            ObjectNode node = (ObjectNode) Protocol.JSON.readTree(in);
            node.put("job_id", jobId);
            return Protocol.JSON.writeValueAsBytes(node);
        }
    }
}
