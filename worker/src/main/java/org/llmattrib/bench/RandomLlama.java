package org.llmattrib.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.llmattrib.llama.Djl;
import org.llmattrib.llama.LlamaConfig;
import org.llmattrib.llama.LlamaModel;

/** Llama models with random weights in memory, for benchmarks of shapes we cannot download. */
public final class RandomLlama {
    private RandomLlama() {}

    /** Llama-3.2-1B's shape: hidden 2048, 16 layers, 32/8 heads, vocab 128256, tied embeddings. */
    public static LlamaConfig llama32OneB(int layers) {
        return new LlamaConfig(128256, 2048, 8192, layers, 32, 8, 64, 1e-5, 500000.0,
                new LlamaConfig.RopeScaling(32.0, 1.0, 4.0, 8192), true, 128000, java.util.List.of(128001));
    }

    /** Weights drawn in float32 on {@code device} (cpu, cuda, cuda:N), then held there in {@code dtype}. */
    public static LlamaModel create(LlamaConfig config, long seed, String device, DataType dtype) {
        Djl.configure();
        NDManager manager = NDManager.newBaseManager(Djl.device(device), "PyTorch");
        manager.getEngine().setRandomSeed((int) seed);
        return new LlamaModel(config, (name, m, shape) -> name.endsWith("norm.weight")
                ? m.ones(new Shape(shape), DataType.FLOAT32)
                : m.randomNormal(0f, (float) (1 / Math.sqrt(shape[shape.length - 1])), new Shape(shape), DataType.FLOAT32),
                manager, dtype);
    }
}
