package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `attrib explain --json` prints exactly the result events, one JSON object per line, and nothing else. */
class ExplainCommandTest {

    static String run(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            new CommandLine(new Main()).execute(args);
        } finally {
            System.setOut(original);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonModePrintsOnlyTheEvents() {
        String out = run("explain", "--model", TestModels.tinyLlama3Dir().toString(), "--request",
                Path.of("../protocol/src/main/resources/examples/seed-lig-embeddings.json").toString(), "--json");
        List<String> lines = out.lines().toList();
        List<AttributionEvent> events = lines.stream()
                .map(l -> Protocol.decodeEvent(l.getBytes(StandardCharsets.UTF_8))).toList();
        assertThat(events.get(0)).isInstanceOf(AttributionEvent.Accepted.class);
        assertThat(events.get(events.size() - 1)).isInstanceOf(AttributionEvent.Completed.class);
        assertThat(events).hasSize(((AttributionEvent.Accepted) events.get(0)).targetTokens().size() + 2);
    }

    @Test
    void humanModeShowsAHeatmapAndBadFilesGiveAFailedEvent(@TempDir Path dir) throws Exception {
        String out = run("explain", "--model", TestModels.tinyLlama3Dir().toString(), "--request",
                Path.of("../protocol/src/main/resources/examples/seed-token-feature-ablation.json").toString());
        assertThat(out).contains("accepted").contains(" Palm").contains("seq").contains("done in");
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"schema\": \"attribution-request/v1\", \"job_id\": \"b\", \"input\": {}}");
        String failed = run("explain", "--model", TestModels.tinyLlama3Dir().toString(), "--request", bad.toString(), "--json");
        AttributionEvent.Failed f = (AttributionEvent.Failed) Protocol.decodeEvent(failed.strip().getBytes(StandardCharsets.UTF_8));
        assertThat(f.jobId()).isEqualTo("b");
        assertThat(f.field()).startsWith("input");
    }
}
