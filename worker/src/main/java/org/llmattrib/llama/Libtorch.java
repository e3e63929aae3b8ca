package org.llmattrib.llama;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Platform;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which libtorch DJL runs on: the CPU build inside the jar, or a folder of one's own, named by
 * {@code ATTRIB_LIBTORCH} (or {@code attrib --libtorch DIR}), e.g. the host's own PyTorch with its
 * CUDA, prepared by {@code deploy/build-djl-jni.sh}. Such a folder holds libtorch's libraries (or
 * links to them), DJL's JNI library built for that libtorch ({@code libdjl_torch.so}) and
 * {@code libtorch.properties}: {@code version}, {@code flavor} ({@code cpu}, {@code cu130}, ...)
 * and {@code library_path}, the folders the dynamic linker must search for the libraries' own
 * dependencies (links break their {@code $ORIGIN}-relative search paths). {@code ./attrib} puts
 * those in {@code LD_LIBRARY_PATH} before Java starts; it cannot be set from inside the JVM.
 */
public final class Libtorch {
    public static final String ENV = "ATTRIB_LIBTORCH";
    /** The system property {@code --libtorch} sets; it wins over the environment. */
    public static final String PROPERTY = "attrib.libtorch";
    public static final String PROPERTIES_FILE = "libtorch.properties";

    /** A folder that cannot serve as libtorch, in one line that names it. */
    public static final class FolderException extends RuntimeException {
        FolderException(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * The environment variable with which libtorch runs float32 matrix products on a GPU in TF32
     * (10 mantissa bits, tensor cores) when it is 1. NVIDIA's PyTorch containers set it; {@code
     * ./attrib} sets it to 0 unless asked for TF32 ({@code --tf32} or {@code ATTRIB_TF32=1}).
     */
    public static final String TF32_ENV = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE";

    /** Whether float32 matrix products on a GPU run in TF32 in this process ({@link #TF32_ENV}). */
    public static boolean tf32() {
        String v = System.getenv(TF32_ENV);
        return v != null && List.of("1", "on", "yes", "y", "true").contains(v.trim().toLowerCase(java.util.Locale.ROOT));
    }

    /** What DJL loaded: its folder, libtorch's version and flavour, the build's features and the GPUs CUDA reports. */
    public record Loaded(String folder, String version, String flavor, String source, List<String> features,
            int gpus) {
        public String describe() {
            return String.format("libtorch %s (%s) from %s (%s)%nfeatures: %s%ndevices: cpu%s%s", version, flavor,
                    folder, source, String.join(", ", features),
                    gpus > 0 ? ", cuda:0 to cuda:" + (gpus - 1) + " (" + gpus + " GPU" + (gpus > 1 ? "s" : "") + ")"
                            : features.contains("CUDA") ? "; no GPU found by CUDA" : "; no CUDA in this build",
                    gpus > 0 ? String.format("%nfloat32 matrix products on a GPU: %s", tf32()
                            ? "TF32 (" + TF32_ENV + "=" + System.getenv(TF32_ENV) + ")" : "float32") : "");
        }
    }

    private Libtorch() {}

    /** The folder asked for, if any: {@code --libtorch} first, then {@code ATTRIB_LIBTORCH}. */
    static String requested() {
        String folder = System.getProperty(PROPERTY);
        return folder != null ? folder : System.getenv(ENV);
    }

    /** How the folder was asked for, as the user wrote it. */
    private static String asked() {
        return (System.getProperty(PROPERTY) != null ? "--libtorch " : ENV + "=") + requested();
    }

    /**
     * Points DJL at the folder asked for, if any, before its engine loads: sets
     * {@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_VERSION} and {@code PYTORCH_FLAVOR}.
     *
     * @throws FolderException when the folder cannot be used, saying why
     */
    public static synchronized void select() {
        String requested = requested();
        if (requested == null || requested.isEmpty()) {
            return;
        }
        String name = asked();
        if (requested.equals("python")) {
            throw new FolderException(name + ": './attrib' resolves 'python' to the folder deploy/build-djl-jni.sh"
                    + " made for the python3's torch; with java directly, name that folder");
        }
        Path dir = Path.of(requested).toAbsolutePath();
        Properties p = check(name, dir);
        String outside = System.getenv("PYTORCH_LIBRARY_PATH");
        if (outside != null && !Path.of(outside).toAbsolutePath().equals(dir)) {
            throw new FolderException(name + ": PYTORCH_LIBRARY_PATH=" + outside
                    + " is set too and DJL would take it instead; unset it");
        }
        System.setProperty("PYTORCH_LIBRARY_PATH", dir.toString());
        if (System.getProperty("jna.library.path") == null && !p.getProperty("library_path", "").isBlank()) {
            // where DJL's CUDA helpers (through JNA) find libcudart: pip's is in nvidia/cuda_runtime/lib
            System.setProperty("jna.library.path", p.getProperty("library_path", ""));
        }
        System.setProperty("PYTORCH_VERSION", p.getProperty("version"));
        System.setProperty("PYTORCH_FLAVOR", p.getProperty("flavor"));
    }

    /** The folder's properties, once it is known to hold what DJL needs. */
    static Properties check(String name, Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new FolderException(name + ": no such folder");
        }
        for (String lib : List.of("libtorch.so", "libdjl_torch.so")) {
            if (!Files.exists(dir.resolve(lib))) {
                throw new FolderException(name + ": no " + lib + " in " + dir + " (a libtorch folder holds libtorch's"
                        + " libraries and DJL's JNI library built for it: deploy/build-djl-jni.sh makes one)");
            }
        }
        Path file = dir.resolve(PROPERTIES_FILE);
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        } catch (IOException e) {
            throw new FolderException(name + ": cannot read " + file + " (version, flavor, library_path;"
                    + " deploy/build-djl-jni.sh writes it)");
        }
        for (String key : List.of("version", "flavor")) {
            if (p.getProperty(key, "").isBlank()) {
                throw new FolderException(name + ": " + file + " has no " + key);
            }
        }
        Set<String> searched = Arrays.stream(System.getenv().getOrDefault("LD_LIBRARY_PATH", "").split(":"))
                .filter(s -> !s.isEmpty()).map(s -> Path.of(s).toAbsolutePath().normalize().toString())
                .collect(Collectors.toSet());
        List<String> missing = Arrays.stream(p.getProperty("library_path", "").split(":")).filter(s -> !s.isEmpty())
                .filter(s -> !searched.contains(Path.of(s).toAbsolutePath().normalize().toString())).toList();
        if (!missing.isEmpty()) {
            throw new FolderException(name + ": LD_LIBRARY_PATH lacks " + String.join(":", missing)
                    + " (its library_path; ./attrib sets it, java alone does not)");
        }
        return p;
    }

    /** Starts DJL's PyTorch engine if it is not running yet and says what it loaded. */
    public static Loaded loaded() {
        Djl.configure();
        Engine engine;
        try {
            engine = Engine.getEngine("PyTorch");
        } catch (RuntimeException | LinkageError e) {
            String folder = requested();
            throw new IllegalStateException("libtorch did not load" + (folder == null ? "" : " from " + asked())
                    + ": " + rootMessage(e), e);
        }
        String flavor;
        String source;
        if (requested() != null) {
            flavor = System.getProperty("PYTORCH_FLAVOR");
            source = asked();
        } else if (System.getenv("PYTORCH_LIBRARY_PATH") != null) {
            flavor = System.getenv().getOrDefault("PYTORCH_FLAVOR", "flavor not given");
            source = "DJL's PYTORCH_LIBRARY_PATH";
        } else {
            flavor = Platform.detectPlatform("pytorch").getFlavor();
            source = "the build inside the jar";
        }
        List<String> features = JniUtils.getFeatures().stream().sorted().toList();
        int gpus = engine.getGpuCount();
        if (gpus == 0 && features.contains("CUDA")) {
            // DJL looks for libcudart through JNA, which may miss pip's versioned one: ask the driver
            gpus = nvidiaSmi("--query-gpu=index", "--format=csv,noheader").map(s -> (int) s.lines().count()).orElse(0);
        }
        return new Loaded(LibUtils.getLibtorchPath(), engine.getVersion(), flavor, source, features, gpus);
    }

    /** What {@code nvidia-smi ARGS} prints, when it is there and succeeds. */
    public static Optional<String> nvidiaSmi(String... args) {
        List<String> command = new ArrayList<>(List.of("nvidia-smi"));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.waitFor() == 0 ? Optional.of(out) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }
}
