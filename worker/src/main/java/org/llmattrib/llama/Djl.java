package org.llmattrib.llama;

import ai.djl.Device;
import java.nio.file.Path;

/** DJL settings that must be in place before its engines load: offline, with a cache we choose. */
public final class Djl {
    private Djl() {}

    /**
     * Offline always; the cache is $ATTRIB_CACHE/djl, else ~/.cache/llm-attrib/djl, unless DJL_CACHE_DIR is set;
     * libtorch from the folder {@link Libtorch} names, if any.
     */
    public static synchronized void configure() {
        System.setProperty("ai.djl.offline", "true");
        Libtorch.select();
        if (System.getProperty("DJL_CACHE_DIR") == null && System.getenv("DJL_CACHE_DIR") == null) {
            String base = System.getenv("ATTRIB_CACHE");
            Path dir = base != null ? Path.of(base, "djl")
                    : Path.of(System.getProperty("user.home"), ".cache", "llm-attrib", "djl");
            System.setProperty("DJL_CACHE_DIR", dir.toString());
            System.setProperty("ENGINE_CACHE_DIR", dir.toString());
        }
    }

    /** {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static Device device(String name) {
        if (name.equals("cpu")) {
            return Device.cpu();
        }
        if (name.equals("cuda")) {
            return Device.gpu();
        }
        if (name.startsWith("cuda:")) {
            return Device.gpu(Integer.parseInt(name.substring(5)));
        }
        throw new IllegalArgumentException("device '" + name + "' is not one of cpu, cuda, cuda:N");
    }
}
