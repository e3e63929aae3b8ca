package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Greedy generation calls its checkpoint before every token, so a deadline or a cancel stops it between tokens. */
class GenerationCheckpointTest {

    @Test
    void aThrowingCheckpointStopsGenerationBetweenTokensAndFreesItsArrays() {
        Llama llama = TestModels.tinyLlama3(DataType.FLOAT32);
        int before = llama.model().manager().getManagedArrays().size();
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> llama.generate(new long[] {128000, 9906}, 4096, false, () -> {
            if (calls.incrementAndGet() == 4) {
                throw new IllegalStateException("stop");
            }
        })).hasMessage("stop");
        assertThat(calls).hasValue(4);
        assertThat(llama.model().manager().getManagedArrays()).hasSize(before);

        calls.set(0);
        assertThat(llama.generate(new long[] {128000, 9906}, 3, false, calls::incrementAndGet)).hasSize(3);
        assertThat(calls).as("one call per token").hasValue(3);
    }
}
