package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.llmattrib.bench.RandomLlama;

/** The FLOP model behind job limits and the benchmarks' TFLOP/s, counted product by product. */
class FlopCountTest {
    private static final LlamaConfig ONE_B = RandomLlama.llama32OneB(16);

    @Test
    void llama32OneBHasItsPublishedParameterCount() {
        assertThat(ONE_B.parameterCount()).isEqualTo(1_235_814_400L);
    }

    @Test
    void forwardAndBackwardCountEachProductOfTheLlama32OneBShape() {
        long tokens = 7, context = 12, scored = 3;
        // per token and layer: q, k, v, o, gate, up, down; 2 FLOPs a multiply-add
        long weights = 2L * (2048 * 2048 + 2 * 2048 * 512 + 2048 * 2048 + 3 * 2048 * 8192);
        long scores = 2L * 32 * 64 * context, mix = 2L * 32 * 64 * context;   // q k^T, p v over the context
        long norms = 2L * 2 * 2048;                                           // the layer's two RMSNorm scales
        long head = 2L * 128256 * 2048;
        long forward = tokens * 16 * (weights + scores + mix + norms) + tokens * 2 * 2048 + scored * head;
        assertThat(ONE_B.forwardFlops(tokens, context, scored)).isEqualTo(forward);
        // to the activations: every weight product once (dx = dy W), each attention product twice
        long backward = tokens * 16 * (weights + 2 * scores + 2 * mix + norms) + tokens * 2 * 2048 + scored * head;
        assertThat(ONE_B.backwardFlops(tokens, context, scored, 16)).isEqualTo(backward);
        assertThat((double) backward / forward).isBetween(1.0, 1.02);
    }
}
