package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.types.DataType;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.attribution.ResultStore;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** reduce "none": the [positions x hidden] tensors go to the result store as .npy, events carry their URIs. */
class UnreducedTensorsTest {

    @Test
    void tensorsAreWrittenAsNumpyFilesThatSumToTheIntegratedGradientsTotal(@TempDir Path store) throws Exception {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        JobRunner runner = new JobRunner(new AttributionEngine(llama, new ResultStore(store)),
                new RequestPlanner(llama, Limits.cpu()), "test");
        String request = """
                {"schema": "attribution-request/v1", "job_id": "unreduced",
                 "input": {"type": "tokens", "text": "Dave lives in Palm Coast"},
                 "target": " golf club", "method": {"name": "layer_integrated_gradients", "n_steps": 32},
                 "layers": ["model.embed_tokens", "model.layers.0.mlp"], "reduce": "none"}""";
        List<AttributionEvent> events = new ArrayList<>();
        runner.run(request.getBytes(StandardCharsets.UTF_8), Map.of(), () -> false, () -> false, events::add);
        List<AttributionEvent.Token> tokens = events.stream().filter(e -> e instanceof AttributionEvent.Token)
                .map(e -> (AttributionEvent.Token) e).toList();
        assertThat(tokens).hasSize(2);
        for (AttributionEvent.Token t : tokens) {
            for (String layer : List.of("model.embed_tokens", "model.layers.0.mlp")) {
                Path file = Path.of(URI.create(t.tensors().get(layer)));
                byte[] npy = Files.readAllBytes(file);
                int headerLength = ByteBuffer.wrap(npy, 8, 2).order(ByteOrder.LITTLE_ENDIAN).getShort();
                String header = new String(npy, 10, headerLength, StandardCharsets.US_ASCII);
                int positions = 6 + t.index(); // BOS + 5 prompt tokens, then earlier target tokens
                assertThat(header).contains("'descr': '<f4'").contains("'shape': (" + positions + ", 64,)");
                assertThat((10 + headerLength) % 64).isZero();
                ByteBuffer data = ByteBuffer.wrap(npy, 10 + headerLength, npy.length - 10 - headerLength)
                        .order(ByteOrder.LITTLE_ENDIAN);
                double sum = 0;
                while (data.remaining() >= 4) {
                    sum += data.getFloat();
                }
                AttributionEvent.IgCheck check = t.ig().get(layer);
                assertThat(sum).as("%s token %d", layer, t.index())
                        .isCloseTo(check.fInput() - check.fBaseline() + check.delta(), within(1e-4));
            }
        }
    }

    @Test
    void withoutAStoreReduceNoneFailsNamingTheField() {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        JobRunner runner = new JobRunner(new AttributionEngine(llama, null), new RequestPlanner(llama, Limits.cpu()), "test");
        List<AttributionEvent> events = new ArrayList<>();
        runner.run("""
                {"schema": "attribution-request/v1", "job_id": "no-store",
                 "input": {"type": "tokens", "text": "Dave"}, "target": " golf",
                 "method": {"name": "layer_integrated_gradients"}, "reduce": "none"}""".getBytes(StandardCharsets.UTF_8),
                Map.of(), () -> false, () -> false, events::add);
        assertThat(events).singleElement().isInstanceOfSatisfying(AttributionEvent.Failed.class,
                f -> assertThat(f.field()).isEqualTo("reduce"));
    }
}
