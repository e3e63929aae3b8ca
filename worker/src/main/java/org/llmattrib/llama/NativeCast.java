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
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Casts that DJL 0.36 cannot do: to bfloat16 at all, and between float types under autograd.
 *
 * <p>DJL's native dtype table stops at complex64: any DJL call that names BFLOAT16 (or INT16)
 * ({@code toType}, {@code create(buffer, shape, type)}, {@code zeros}) reaches a bare {@code throw;}
 * in native code and the JVM dies with "terminate called without an active exception". A bfloat16
 * tensor made otherwise works in every type-free operation (matMul, add, linear, embedding, ...) but
 * reports {@link DataType#UNKNOWN}, so nothing may derive a type from it: {@code zerosLike},
 * {@code onesLike} and {@code softmax} abort too; {@code toFloatArray}, {@code getFloat} and
 * {@code toString} throw. And DJL's {@code toType} runs without autograd, so a cast inside a
 * differentiated forward cuts the graph.
 *
 * <p>Both go through a TorchScript module of two methods (cast, and the type of a tensor), written
 * here (a TorchScript archive is a zip of Python-like source and a pickle) and loaded once per JVM.
 */
public final class NativeCast {
    /** c10::ScalarType codes. */
    private static final long HALF = 5;
    private static final long FLOAT = 6;
    private static final long DOUBLE = 7;
    private static final long BFLOAT16 = 15;

    private static final String SOURCE = """
            class Cast(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              def forward(self: __torch__.Cast, x: Tensor, dtype: Tensor) -> Tensor:
                return torch.to(x, int(dtype))
              def dtype(self: __torch__.Cast, x: Tensor) -> int:
                return ops.prim.dtype(x)
            """;

    private static PtSymbolBlock module;
    private static NDManager moduleManager;

    private NativeCast() {}

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
        NDList out;
        try (NDArray code = x.getManager().create(code(type))) {
            out = IValueUtils.forward(module(), new NDList(x, code), true);
        }
        return out.singletonOrThrow();
    }

    /** The type of {@code x}, BFLOAT16 included (where DJL says UNKNOWN). */
    public static DataType typeOf(NDArray x) {
        DataType type = x.getDataType();
        if (type != DataType.UNKNOWN) {
            return type;
        }
        try (IValue in = IValue.from((PtNDArray) x); IValue code = IValueUtils.runMethod(module(), "dtype", in)) {
            return code.toLong() == BFLOAT16 ? DataType.BFLOAT16 : DataType.UNKNOWN;
        }
    }

    /** Bytes of one element of {@code type}, BFLOAT16 included. */
    public static int bytes(DataType type) {
        return type == DataType.BFLOAT16 ? 2 : type.getNumOfBytes();
    }

    private static long code(DataType type) {
        return switch (type) {
            case FLOAT64 -> DOUBLE;
            case FLOAT32 -> FLOAT;
            case FLOAT16 -> HALF;
            case BFLOAT16 -> BFLOAT16;
            default -> throw new IllegalArgumentException("no native cast to " + type);
        };
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
        pickle.write("c__torch__\nCast\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL __torch__.Cast
        // EMPTY_TUPLE NEWOBJ EMPTY_DICT BINUNICODE(8 bytes)
        pickle.write(new byte[] {')', (byte) 0x81, '}', 'X', 8, 0, 0, 0});
        pickle.write("training".getBytes(StandardCharsets.US_ASCII));
        pickle.write(new byte[] {(byte) 0x88, 's', 'b', '.'}); // NEWTRUE SETITEM BUILD STOP
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            stored(zip, "cast/version", "3".getBytes(StandardCharsets.US_ASCII));
            stored(zip, "cast/data.pkl", pickle.toByteArray());
            stored(zip, "cast/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
            stored(zip, "cast/code/__torch__.py", SOURCE.getBytes(StandardCharsets.US_ASCII));
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
