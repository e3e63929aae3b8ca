package org.llmattrib.attribution;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where unreduced attribution tensors go: they are far too big for Kafka messages (hundreds of MB
 * per job for the seed's layer set), so events carry only their URI. Files are NumPy .npy
 * (float32, C order), loadable with {@code numpy.load}.
 */
public final class ResultStore {
    private final Path root;

    public ResultStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /**
     * Writes {@code tensor} as {@code <root>/<job>/token-<t>/<layer>.npy}; returns its file URI. A job
     * id or layer name that would lead out of the root ({@code ..}, an absolute path) is refused.
     */
    public String write(String jobId, int token, String layer, NDArray tensor) {
        Path file = root.resolve(jobId).resolve("token-" + token).resolve(layer + ".npy").normalize();
        if (!file.startsWith(root) || file.getNameCount() != root.getNameCount() + 3) {
            throw new IllegalArgumentException("job id '" + jobId + "' or layer '" + layer
                    + "' does not name a place inside the result store " + root);
        }
        float[] data = tensor.toType(DataType.FLOAT32, false).toFloatArray();
        long[] shape = tensor.getShape().getShape();
        StringBuilder dims = new StringBuilder();
        for (long d : shape) {
            dims.append(d).append(", ");
        }
        String header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims.toString().trim() + "), }";
        int padded = (header.length() + 11 + 63) / 64 * 64;
        header = header + " ".repeat(padded - header.length() - 11) + "\n";
        try {
            Files.createDirectories(file.getParent());
            try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file))) {
                out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
                out.write(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) header.length()).array());
                out.write(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                ByteBuffer buf = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                buf.asFloatBuffer().put(data);
                out.write(buf.array());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file.toUri().toString();
    }
}
