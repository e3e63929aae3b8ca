package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * bfloat16 and float16 models against the float32 one on the golden checkpoints: weights and
 * matmuls really in the reduced type, log-probabilities in float32 and close to float32's.
 */
class ReducedPrecisionTest {
    private static final String NAME = "tiny-llama-sharded";
    private static final String Q_PROJ = "model.layers.0.self_attn.q_proj";

    /**
     * Logits within 12 unit roundoffs (2^-8 for bfloat16's 8 bits of mantissa, 2^-11 for float16's
     * 11) of float32's, relative to the largest: measured 5.9 (0.023) and 5.7 (0.0028) on this checkpoint.
     */
    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"BFLOAT16", "FLOAT16"})
    void logitsAreCloseToFloat32sAndLogProbsAreFloat32(DataType dtype) {
        long[] ids = TestModels.ids(TestModels.expected().path(NAME).path("sequences").get(0).path("ids"));
        long[] positions = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            positions[i] = i;
        }
        LlamaModel reference = TestModels.goldenModel(NAME, DataType.FLOAT32).model();
        LlamaModel reduced = TestModels.goldenModel(NAME, dtype).model();
        assertThat(reduced.dtype()).isEqualTo(dtype);
        try (NDManager m = reduced.manager().newSubManager()) {
            NDArray idArray = m.create(ids).reshape(1, ids.length);
            Taps taps = Taps.capturing(Set.of(LlamaModel.EMBED, Q_PROJ));
            NDArray hidden = reduced.forward(idArray, m.ones(idArray.getShape(), DataType.INT64), taps, null);
            assertThat(Kernels.typeOf(taps.captured(LlamaModel.EMBED))).as("embedding weights").isEqualTo(dtype);
            assertThat(Kernels.typeOf(taps.captured(Q_PROJ))).as("a projection's matmul").isEqualTo(dtype);
            NDArray logProbs = reduced.logSoftmaxAt(hidden, positions);
            assertThat(logProbs.getDataType()).isEqualTo(DataType.FLOAT32);

            NDArray expected = reference.forward(idArray, m.ones(idArray.getShape(), DataType.INT64), Taps.NONE, null);
            float[] want = reference.logitsAt(expected, positions).toFloatArray();
            float[] got = reduced.logitsAt(hidden, positions).toFloatArray();
            double range = 0;
            double maxDiff = 0;
            for (int i = 0; i < want.length; i++) {
                range = Math.max(range, Math.abs(want[i]));
                maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
            }
            double unitRoundoff = dtype == DataType.BFLOAT16 ? 0x1p-8 : 0x1p-11;
            assertThat(maxDiff / range).as("max |logit - float32's| / max |float32 logit|")
                    .isLessThan(12 * unitRoundoff)
                    .isGreaterThan(unitRoundoff / 8); // not the float32 model under another name
        }
    }
}
