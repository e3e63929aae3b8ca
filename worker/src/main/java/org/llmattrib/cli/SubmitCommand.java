package org.llmattrib.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.llmattrib.protocol.AttributionClient;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Sends a request file and follows its events: a progress bar and heatmap, or JSON lines. */
@Command(name = "submit", description = "Submit a request file to the workers and follow its results.")
final class SubmitCommand implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka;

    @Option(names = "--request", required = true, description = "request JSON file (attribution-request/v1)")
    Path request;

    @Option(names = "--job-id", description = "override the file's job_id")
    String jobId;

    @Option(names = "--json", description = "print the job's events as JSON lines and nothing else")
    boolean json;

    @Option(names = "--timeout", defaultValue = "PT30M", description = "ISO-8601 duration (default: ${DEFAULT-VALUE})")
    Duration timeout;

    @Override
    public Integer call() throws IOException {
        byte[] body = Files.readAllBytes(request);
        ObjectNode node = (ObjectNode) Protocol.JSON.readTree(body);
        if (jobId != null) {
            node.put("job_id", jobId);
            body = Protocol.JSON.writeValueAsBytes(node);
        }
        String id = node.path("job_id").asText();
        try (AttributionClient client = new AttributionClient(kafka.bootstrap, kafka.properties(), kafka.connectTimeout)) {
            AttributionEvent last = client.submitAndFollow(id, body, timeout, json
                    ? e -> System.out.println(Protocol.toJson(e)) : new EventView(System.out, 0));
            if (last == null) {
                System.err.println("no final event for " + id + " within " + timeout);
                return 3;
            }
            return last instanceof AttributionEvent.Completed ? 0 : 1;
        }
    }
}
