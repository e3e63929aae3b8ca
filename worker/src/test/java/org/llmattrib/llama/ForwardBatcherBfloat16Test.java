package org.llmattrib.llama;

import ai.djl.ndarray.types.DataType;

/**
 * {@link ForwardBatcherTest} in bfloat16, whose padding and packing go through native casts (DJL
 * cannot name the type): packed steps stay within bfloat16's rounding of the steps alone.
 */
class ForwardBatcherBfloat16Test extends ForwardBatcherTest {
    @Override
    DataType dtype() {
        return DataType.BFLOAT16;
    }

    @Override
    double tolerance() {
        return 0.05;
    }
}
