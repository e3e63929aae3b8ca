package org.llmattrib.service;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.llmattrib.attribution.Limits;
import org.llmattrib.attribution.AttributionEngine;
import org.llmattrib.attribution.RequestPlanner;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.junit.jupiter.api.Test;

/** The model stays resident; every native array a request creates is released when the request ends. */
class ResidentMemoryTest {

    @Test
    void requestsLeaveNoNativeArraysBehind() throws IOException {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        JobRunner runner = new JobRunner(new AttributionEngine(llama, null), new RequestPlanner(llama, Limits.cpu()), "test");
        int before = llama.model().manager().getManagedArrays().size();
        for (String example : List.of("seed-token-feature-ablation", "seed-template-shapley", "seed-fewshot-segments",
                "seed-lig-embeddings", "seed-lig-multilayer")) {
            List<AttributionEvent> events = new ArrayList<>();
            runner.run(ServiceEndToEndTest.example(example, "memory-" + example), Map.of(), () -> false, () -> false,
                    events::add);
            assertThat(events.get(events.size() - 1)).as(example).isInstanceOf(AttributionEvent.Completed.class);
            assertThat(llama.model().manager().getManagedArrays()).as("arrays left after " + example).hasSize(before);
        }
        llama.generate(new long[] {128000, 9906}, 5, true);
        llama.score(new long[] {128000, 9906}, new long[] {1917});
        assertThat(llama.model().manager().getManagedArrays()).hasSize(before);
    }
}
