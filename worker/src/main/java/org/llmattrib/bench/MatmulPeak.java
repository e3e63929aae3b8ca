package org.llmattrib.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.llmattrib.llama.LlamaModel;

/**
 * The matmul rate of the model's device in the model's type, measured: the peak a benchmark's
 * model FLOPs per second are a fraction of. A CPU multiplies [512x2048]x[2048x8192] (a prompt's
 * rows through an MLP projection of the 1B shape); a GPU [8192x8192]x[8192x8192], ten back to back
 * per timing, since one small product is over before its launch costs are. Best of {@code 3 x
 * repeats} timings, each ended by reading a number of the result back (a GPU runs asynchronously).
 */
public record MatmulPeak(long m, long k, long n, double flopsPerSecond) {

    public static MatmulPeak measure(LlamaModel model, int repeats) {
        boolean gpu = model.manager().getDevice().isGpu();
        long m = gpu ? 8192 : 512;
        long k = gpu ? 8192 : 2048;
        long n = 8192;
        int perTiming = gpu ? 10 : 1;
        try (NDManager scratch = model.manager().newSubManager()) {
            NDArray a = model.toModelType(scratch.randomNormal(new Shape(m, k)));
            NDArray b = model.toModelType(scratch.randomNormal(new Shape(k, n)));
            sync(model, a.matMul(b));
            double seconds = Double.MAX_VALUE;
            for (int r = 0; r < 3 * Math.max(1, repeats); r++) {
                long start = System.nanoTime();
                NDArray c = null;
                for (int i = 0; i < perTiming; i++) {
                    if (c != null) {
                        c.close();
                    }
                    c = a.matMul(b);
                }
                sync(model, c);
                seconds = Math.min(seconds, (System.nanoTime() - start) / 1e9);
                c.close();
            }
            return new MatmulPeak(m, k, n, 2.0 * m * k * n * perTiming / seconds);
        }
    }

    /** Waits for the device to finish {@code x}: reads one of its numbers back, as float32 (DJL reads no bfloat16). */
    static void sync(LlamaModel model, NDArray x) {
        model.toWideType(x.get(0, 0)).toFloatArray();
    }

    public String describe() {
        return String.format("[%dx%d]x[%dx%d]: %.3g TFLOP/s", m, k, k, n, flopsPerSecond / 1e12);
    }
}
