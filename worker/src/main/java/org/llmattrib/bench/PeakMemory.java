package org.llmattrib.bench;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.llmattrib.llama.Libtorch;

/**
 * The peak memory of a stretch of work on a device. A GPU: the memory in use on it (CUDA's total
 * minus free) at the end, libtorch's caching allocator emptied at the start, so what it reserved
 * during the work (it keeps what it reserved) plus the weights and the CUDA context. The CPU: the
 * process's peak resident set (VmHWM), reset at the start through /proc/self/clear_refs.
 */
final class PeakMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private final Device device;
    private final boolean reset;

    private PeakMemory(Device device, boolean reset) {
        this.device = device;
        this.reset = reset;
    }

    static PeakMemory start(Device device) {
        if (device.isGpu()) {
            JniUtils.emptyCudaCache();
            return new PeakMemory(device, true);
        }
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return new PeakMemory(device, true);
        } catch (IOException | RuntimeException e) {
            return new PeakMemory(device, false);
        }
    }

    /** Where DJL finds no CUDA runtime of its own (through JNA): the driver's count, for the whole GPU. */
    private String nvidiaSmi() {
        return Libtorch.nvidiaSmi("--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i",
                        Integer.toString(device.getDeviceId()))
                .filter(mib -> mib.matches("\\d+"))
                .map(mib -> String.format("%.2f GiB GPU (nvidia-smi)", Long.parseLong(mib) / 1024.0))
                .orElse("n/a (no CUDA runtime for DJL, no nvidia-smi)");
    }

    /** What was used at most since {@link #start}, e.g. "12.34 GiB GPU" or "6.10 GiB RSS". */
    String end() {
        if (device.isGpu()) {
            try {
                return String.format("%.2f GiB GPU", CudaUtils.getGpuMemory(device).getUsed() / 0x1p30);
            } catch (RuntimeException | LinkageError e) {
                return nvidiaSmi();
            }
        }
        try {
            long kib = Files.readAllLines(STATUS).stream().filter(l -> l.startsWith("VmHWM:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElseThrow();
            return String.format("%.2f GiB RSS%s", kib / 0x1p20, reset ? "" : " (process peak)");
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }
}
