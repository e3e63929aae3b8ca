package org.llmattrib.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The forward's fused kernels (RMSNorm, RoPE, attention, SwiGLU) and the casts DJL cannot do, as
 * one TorchScript module: each is one native call where DJL would make one call per operation.
 *
 * <p>Why a call counts: every DJL operation crosses JNI and builds a Java array object, a few
 * microseconds each; a 16-layer forward made of single operations is over a thousand of them,
 * which on a GPU costs far more than its arithmetic. A kernel here runs its operations inside
 * libtorch, under autograd like any other operation (gradients flow through it).
 *
 * <p>The casts: DJL's native dtype table stops at complex64, so any DJL call that names BFLOAT16
 * ({@code toType}, {@code create(buffer, shape, type)}, {@code zeros}) aborts the JVM ("terminate
 * called without an active exception"). A bfloat16 tensor made otherwise works in every type-free
 * operation (matMul, add, linear, embedding, ...) but reports {@link DataType#UNKNOWN}, so nothing
 * may derive a type from it: {@code zerosLike}, {@code onesLike} and {@code softmax} abort too;
 * {@code toFloatArray}, {@code getFloat} and {@code toString} throw. And DJL's {@code toType} runs
 * without autograd, so a cast inside a differentiated forward cuts the graph. Each target type has
 * its own method, so a cast carries no argument that would have to be read back from the device.
 *
 * <p>The module is written here (a TorchScript archive is a zip of Python-like source and a
 * pickle) and loaded once per JVM.
 */
public final class Kernels {
    /** c10::ScalarType codes. */
    private static final long BFLOAT16_CODE = 15;

    private static final String SOURCE = """
            class Kernels(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              def to_float64(self: __torch__.Kernels, x: Tensor) -> Tensor:
                return torch.to(x, 7)
              def to_float32(self: __torch__.Kernels, x: Tensor) -> Tensor:
                return torch.to(x, 6)
              def to_float16(self: __torch__.Kernels, x: Tensor) -> Tensor:
                return torch.to(x, 5)
              def to_bfloat16(self: __torch__.Kernels, x: Tensor) -> Tensor:
                return torch.to(x, 15)
              def dtype(self: __torch__.Kernels, x: Tensor) -> int:
                return ops.prim.dtype(x)
              def rms_norm(self: __torch__.Kernels, x: Tensor, weight: Tensor, eps: Tensor) -> Tensor:
                h = torch.to(x, ops.prim.dtype(eps))
                variance = torch.mean(torch.pow(h, 2), [-1], True)
                normed = torch.div(h, torch.sqrt(torch.add(variance, eps)))
                return torch.mul(torch.to(normed, ops.prim.dtype(weight)), weight)
              def prologue(self: __torch__.Kernels, mask: Tensor, inv_freq: Tensor, like: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
                return self.masks(mask, inv_freq, like, None, None)
              def prologue_after(self: __torch__.Kernels, mask: Tensor, inv_freq: Tensor, like: Tensor, seen: Tensor, past_key_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
                return self.masks(mask, inv_freq, like, seen, past_key_mask)
              def masks(self: __torch__.Kernels, mask: Tensor, inv_freq: Tensor, like: Tensor, seen: Optional[Tensor], past_key_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
                token_mask = torch.to(mask, 11)
                counts = torch.cumsum(torch.to(mask, 4), 1)
                key_mask = token_mask
                past = 0
                if past_key_mask is not None:
                  key_mask = torch.cat([past_key_mask, token_mask], 1)
                  past = torch.size(past_key_mask, 1)
                positions = torch.sub(counts, 1)
                last = torch.slice(counts, 1, -1)
                if seen is not None:
                  positions = torch.add(positions, seen)
                  last = torch.add(seen, last)
                positions = torch.clamp_min(positions, 0)
                wide = ops.prim.dtype(inv_freq)
                freqs = torch.mul(torch.unsqueeze(torch.to(positions, wide), -1), inv_freq)
                angles = torch.unsqueeze(torch.cat([freqs, freqs], -1), 1)
                dtype = ops.prim.dtype(like)
                length = torch.size(mask, 1)
                device = ops.prim.device(mask)
                queries = torch.add(torch.unsqueeze(torch.arange(length, device=device), 1), past)
                keys = torch.unsqueeze(torch.arange(past + length, device=device), 0)
                allowed = torch.logical_and(torch.unsqueeze(torch.le(keys, queries), 0), torch.unsqueeze(key_mask, 1))
                bias = torch.unsqueeze(torch.mul(torch.sub(torch.to(allowed, wide), 1), 1000000000.), 1)
                return (torch.to(torch.cos(angles), dtype), torch.to(torch.sin(angles), dtype), bias, key_mask, last)
              def rope_heads(self: __torch__.Kernels, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
                d = torch.size(cos, 3)
                h = torch.transpose(torch.reshape(x, [torch.size(x, 0), torch.size(x, 1), -1, d]), 1, 2)
                half = torch.floordiv(d, 2)
                rotated = torch.cat([torch.neg(torch.slice(h, 3, half)), torch.slice(h, 3, 0, half)], -1)
                return torch.add(torch.mul(h, cos), torch.mul(rotated, sin))
              def attend(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, bias: Tensor, scale: Tensor) -> Tensor:
                groups = torch.floordiv(torch.size(q, 1), torch.size(k, 1))
                if groups > 1:
                  k = torch.repeat_interleave(k, groups, 1)
                  v = torch.repeat_interleave(v, groups, 1)
                scores = torch.to(torch.matmul(q, torch.transpose(k, 2, 3)), ops.prim.dtype(scale))
                weights = torch.softmax(torch.add(torch.mul(scores, scale), bias), -1)
                out = torch.matmul(torch.to(weights, ops.prim.dtype(q)), v)
                return torch.flatten(torch.transpose(out, 1, 2), 2)
              def swiglu(self: __torch__.Kernels, gate: Tensor, up: Tensor) -> Tensor:
                return torch.mul(torch.silu(gate), up)
              def decoder_layer(self: __torch__.Kernels, x: Tensor, cos: Tensor, sin: Tensor, bias: Tensor, scale: Tensor, eps: Tensor, input_norm: Tensor, wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, post_norm: Tensor, w_gate: Tensor, w_up: Tensor, w_down: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
                return self.layer(x, cos, sin, bias, scale, eps, input_norm, wq, wk, wv, wo, post_norm, w_gate, w_up, w_down, None, None)
              def decoder_layer_after(self: __torch__.Kernels, x: Tensor, cos: Tensor, sin: Tensor, bias: Tensor, scale: Tensor, eps: Tensor, input_norm: Tensor, wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, post_norm: Tensor, w_gate: Tensor, w_up: Tensor, w_down: Tensor, past_k: Tensor, past_v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
                return self.layer(x, cos, sin, bias, scale, eps, input_norm, wq, wk, wv, wo, post_norm, w_gate, w_up, w_down, past_k, past_v)
              def layer(self: __torch__.Kernels, x: Tensor, cos: Tensor, sin: Tensor, bias: Tensor, scale: Tensor, eps: Tensor, input_norm: Tensor, wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, post_norm: Tensor, w_gate: Tensor, w_up: Tensor, w_down: Tensor, past_k: Optional[Tensor], past_v: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
                h = self.rms_norm(x, input_norm, eps)
                q = self.rope_heads(torch.linear(h, wq), cos, sin)
                k = self.rope_heads(torch.linear(h, wk), cos, sin)
                v = torch.linear(h, wv)
                v = torch.transpose(torch.reshape(v, [torch.size(v, 0), torch.size(v, 1), -1, torch.size(cos, 3)]), 1, 2)
                if past_k is not None:
                  k = torch.cat([past_k, k], 2)
                if past_v is not None:
                  v = torch.cat([past_v, v], 2)
                x = torch.add(x, torch.linear(self.attend(q, k, v, bias, scale), wo))
                h2 = self.rms_norm(x, post_norm, eps)
                mlp = torch.linear(self.swiglu(torch.linear(h2, w_gate), torch.linear(h2, w_up)), w_down)
                return (torch.add(x, mlp), k, v)
            """;

    private static final Map<DataType, String> CASTS = Map.of(DataType.FLOAT64, "to_float64",
            DataType.FLOAT32, "to_float32", DataType.FLOAT16, "to_float16", DataType.BFLOAT16, "to_bfloat16");

    private static PtSymbolBlock module;
    private static NDManager moduleManager;
    /** One array per method, named for DJL to call that method; never passed to it. */
    private static final Map<String, NDArray> methods = new HashMap<>();

    private Kernels() {}

    /**
     * {@code x} in {@code type} (FLOAT64, FLOAT32, FLOAT16 or BFLOAT16), differentiably; {@code x}
     * itself if it already is.
     */
    public static NDArray cast(NDArray x, DataType type) {
        DataType from = x.getDataType();
        // only a bfloat16 target needs to ask TorchScript whether an UNKNOWN array already is bfloat16
        if (from == type || (from == DataType.UNKNOWN && type == DataType.BFLOAT16 && typeOf(x) == type)) {
            return x;
        }
        String method = CASTS.get(type);
        if (method == null) {
            throw new IllegalArgumentException("no native cast to " + type);
        }
        return call(method, x).singletonOrThrow();
    }

    /** The type of {@code x}, BFLOAT16 included (where DJL says UNKNOWN). */
    public static DataType typeOf(NDArray x) {
        DataType type = x.getDataType();
        if (type != DataType.UNKNOWN) {
            return type;
        }
        try (IValue in = IValue.from((PtNDArray) x); IValue code = IValueUtils.runMethod(module(), "dtype", in)) {
            return code.toLong() == BFLOAT16_CODE ? DataType.BFLOAT16 : DataType.UNKNOWN;
        }
    }

    /** Bytes of one element of {@code type}, BFLOAT16 included. */
    public static int bytes(DataType type) {
        return type == DataType.BFLOAT16 ? 2 : type.getNumOfBytes();
    }

    /**
     * Llama's RMSNorm: {@code x / sqrt(mean(x^2) + eps)} in eps's type (the wide type), then times
     * {@code weight} in the weight's type. [..., hidden] in and out.
     */
    static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
        return call("rms_norm", x, weight, eps).singletonOrThrow();
    }

    /**
     * What every layer of one forward shares, from the step's mask [B, L] (1: a token, 0: padding)
     * and, with a KV cache that has positions, its tokens seen so far per row [B, 1] and key mask
     * [B, P]: RoPE's cos and sin [B, 1, L, headDim] in {@code like}'s type (positions count tokens
     * only; angles in {@code invFreq}'s type), the additive attention bias [B, 1, L, P + L] in that
     * type (0 where query i may attend key j, a token at or before it, else -1e9), the key mask [B,
     * P + L] and the tokens seen after this step [B, 1].
     */
    static NDList prologue(NDArray mask, NDArray invFreq, NDArray like, NDArray seen, NDArray pastKeyMask) {
        return seen == null ? call("prologue", mask, invFreq, like)
                : call("prologue_after", mask, invFreq, like, seen, pastKeyMask);
    }

    /** A projection [B, L, n * headDim] as heads [B, n, L, headDim], rotated by RoPE (cos, sin: {@link #prologue}). */
    static NDArray ropeHeads(NDArray x, NDArray cos, NDArray sin) {
        return call("rope_heads", x, cos, sin).singletonOrThrow();
    }

    /**
     * Attention as Hugging Face's eager Llama computes it: scores q k^T in q's type, then in scale's
     * (the wide) type times scale plus bias, softmax there, cast back to q's type for the product
     * with v. Grouped-query heads: key/value head j serves query heads j*groups .. (j+1)*groups-1.
     * q [B, H, L, d], k and v [B, KV, S, d], bias [B, 1, L, S] additive (0 or -1e9); out [B, L, H*d].
     */
    static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray bias, NDArray scale) {
        return call("attend", q, k, v, bias, scale).singletonOrThrow();
    }

    /** Llama's MLP gate: silu(gate) * up. */
    static NDArray swiglu(NDArray gate, NDArray up) {
        return call("swiglu", gate, up).singletonOrThrow();
    }

    /**
     * One whole decoder layer, as {@link LlamaModel}'s taps-free forward of it: x + attention(norm(x)),
     * then + mlp(norm(x)). x [B, L, hidden]; {@code weights} in the order input norm, q, k, v, o,
     * post-attention norm, gate, up, down; {@code pastKeys}, {@code pastValues} [B, KV, P, d] or null.
     * Returns the layer's output, and the keys and values [B, KV, P + L, d] (after RoPE, past ones
     * first) for a cache.
     */
    static NDList decoderLayer(NDArray x, NDArray cos, NDArray sin, NDArray bias, NDArray scale, NDArray eps,
            List<NDArray> weights, NDArray pastKeys, NDArray pastValues) {
        List<NDArray> inputs = new ArrayList<>(List.of(x, cos, sin, bias, scale, eps));
        inputs.addAll(weights);
        if (pastKeys == null) {
            return call("decoder_layer", inputs.toArray(NDArray[]::new));
        }
        inputs.add(pastKeys);
        inputs.add(pastValues);
        return call("decoder_layer_after", inputs.toArray(NDArray[]::new));
    }

    /** Runs one method of the module under autograd; the results belong to the first input's manager. */
    private static NDList call(String method, NDArray... inputs) {
        NDList list = new NDList(inputs.length + 1);
        list.addAll(Arrays.asList(inputs));
        list.add(methodArray(method));
        return IValueUtils.forward(module(), list, true);
    }

    private static synchronized NDArray methodArray(String method) {
        return methods.computeIfAbsent(method, name -> {
            module();
            NDArray a = moduleManager.create(0f);
            a.setName("module_method:" + name);
            return a;
        });
    }

    private static synchronized PtSymbolBlock module() {
        if (module == null) {
            Djl.configure();
            moduleManager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
            try {
                module = JniUtils.loadModule((PtNDManager) moduleManager, new ByteArrayInputStream(archive()), true,
                        false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return module;
    }

    /** A TorchScript archive: the class source, the pickled instance (its one attribute, training), no constants. */
    private static byte[] archive() throws IOException {
        ByteArrayOutputStream pickle = new ByteArrayOutputStream();
        pickle.write(new byte[] {(byte) 0x80, 2}); // PROTO 2
        pickle.write("c__torch__\nKernels\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL __torch__.Kernels
        // EMPTY_TUPLE NEWOBJ EMPTY_DICT BINUNICODE(8 bytes)
        pickle.write(new byte[] {')', (byte) 0x81, '}', 'X', 8, 0, 0, 0});
        pickle.write("training".getBytes(StandardCharsets.US_ASCII));
        pickle.write(new byte[] {(byte) 0x88, 's', 'b', '.'}); // NEWTRUE SETITEM BUILD STOP
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            stored(zip, "kernels/version", "3".getBytes(StandardCharsets.US_ASCII));
            stored(zip, "kernels/data.pkl", pickle.toByteArray());
            stored(zip, "kernels/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
            stored(zip, "kernels/code/__torch__.py", SOURCE.getBytes(StandardCharsets.US_ASCII));
        }
        return out.toByteArray();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }
}
