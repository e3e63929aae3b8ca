package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.ResultStore;
import org.llmattrib.llama.Llama;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.ProtocolException;
import org.llmattrib.service.JobRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** One request file against a local model, no Kafka: the same events the service streams. */
@Command(name = "explain", description = "Run one request file locally (no Kafka) and show the attributions.")
final class ExplainCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--request", required = true, description = "request JSON file (attribution-request/v1)")
    Path request;

    @Option(names = "--json", description = "print exactly the result events, one JSON object per line, and nothing else")
    boolean json;

    @Option(names = "--result-store", description = "directory for unreduced tensors (reduce: none)")
    Path resultStore;

    @Mixin
    LimitOptions limitOptions;

    @Mixin
    LogOptions logOptions;

    @Override
    public Integer call() {
        logOptions.apply(LogOptions.Default.WARNINGS);
        Consumer<AttributionEvent> sink = json ? e -> System.out.println(Protocol.toJson(e)) : new EventView(System.out, 0);
        RequestFile file = RequestFile.read(request, null);
        AttributionRequest decoded;
        try {
            decoded = file.decode();
        } catch (ProtocolException e) {
            if (!json) {
                throw file.invalid(e);
            }
            sink.accept(JobRunner.undecodable(e)); // what the service streams for it
            return 2;
        }
        file.tellGeneratedId(decoded.jobId(), System.err);
        try (Llama llama = modelOptions.load()) {
            JobRunner runner = new JobRunner(new AttributionEngine(llama, resultStore == null ? null
                    : new ResultStore(resultStore)), new RequestPlanner(llama, limitOptions.limits(modelOptions.device)), "explain");
            JobRunner.Outcome outcome = runner.run(decoded, file.json().length, Map.of(), () -> false, () -> false, sink);
            return outcome.status() == JobRunner.Status.COMPLETED ? 0 : 1;
        }
    }
}
