package org.llmattrib.llama;

import ai.djl.ndarray.types.DataType;

/**
 * What a served model's weights and matmuls are in ({@code --dtype}). float32 is the reference;
 * bfloat16 and float16 halve the weights and KV caches, with RMSNorm, the attention softmax and
 * the log-softmax still in float32 (see {@link LlamaModel}).
 */
public enum Precision {
    FLOAT32(DataType.FLOAT32),
    BFLOAT16(DataType.BFLOAT16),
    FLOAT16(DataType.FLOAT16);

    private final DataType dataType;

    Precision(DataType dataType) {
        this.dataType = dataType;
    }

    public DataType dataType() {
        return dataType;
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
