package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A libtorch of one's own ({@code ATTRIB_LIBTORCH=DIR}, the GPU route) without a GPU: a folder made
 * of the CPU libtorch and the JNI library of the DJL jars on this classpath (the Maven repository's),
 * named by ATTRIB_LIBTORCH for {@code selftest} and {@code explain} in JVMs of their own (DJL loads
 * one libtorch per process); a folder that cannot serve fails in one line that names it.
 */
class LibtorchFolderTest {
    @TempDir
    static Path tmp;
    static Path folder;
    static String version;

    /** libtorch.so and friends from pytorch-native-*.jar, libdjl_torch.so from pytorch-jni-*.jar, libtorch.properties. */
    @BeforeAll
    static void folderFromTheDjlJars() throws IOException {
        folder = tmp.resolve("libtorch");
        Files.createDirectories(folder);
        String flavor = null;
        try (JarFile nativeJar = new JarFile(classpathJar("pytorch-native-"))) {
            Properties p = new Properties();
            try (InputStream in = nativeJar.getInputStream(nativeJar.getEntry("native/lib/pytorch.properties"))) {
                p.load(in);
            }
            flavor = p.getProperty("flavor");
            version = p.getProperty("version").replaceAll("-.*", "");
            String prefix = "pytorch/" + flavor + "/" + p.getProperty("classifier") + "/";
            for (JarEntry e : nativeJar.stream().filter(e -> e.getName().startsWith(prefix) && !e.isDirectory()).toList()) {
                copy(nativeJar, e, folder.resolve(e.getName().substring(prefix.length())));
            }
        }
        try (JarFile jni = new JarFile(classpathJar("pytorch-jni-"))) {
            copy(jni, jni.getJarEntry("jnilib/linux-x86_64/" + flavor + "/libdjl_torch.so"),
                    folder.resolve("libdjl_torch.so"));
        }
        Files.writeString(folder.resolve(Libtorch.PROPERTIES_FILE), "version=" + version + "\nflavor=" + flavor
                + "\nlibrary_path=\n");
    }

    private static File classpathJar(String name) {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(p -> new File(p).getName().startsWith(name)).map(File::new).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + "*.jar on the classpath"));
    }

    private static void copy(JarFile jar, JarEntry entry, Path to) throws IOException {
        try (InputStream in = jar.getInputStream(entry)) {
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    record Run(int exitCode, String out, String err) {}

    /** `attrib ARGS` in a JVM of its own with ATTRIB_LIBTORCH set. */
    static Run attrib(String libtorch, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-cp", System.getProperty("java.class.path"), "org.llmattrib.cli.Main"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.remove("PYTORCH_LIBRARY_PATH");
        env.put(Libtorch.ENV, libtorch);
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("attrib " + String.join(" ", args) + " took over 10 minutes");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void selftestAndExplainRunOnTheFolder() throws Exception {
        Run selftest = attrib(folder.toString(), "selftest", "--device", "cpu", "--checks",
                "seed-token-feature-ablation,seed-lig-embeddings");
        assertThat(selftest.exitCode()).as(selftest.out() + selftest.err()).isZero();
        assertThat(selftest.out()).contains("libtorch " + version + " (cpu) from " + folder + " (ATTRIB_LIBTORCH=" + folder
                + ")").contains("2 checks, all within the bound");

        Run explain = attrib(folder.toString(), "explain", "--model", TestModels.tinyLlama3Dir().toAbsolutePath().toString(),
                "--request", Path.of("../protocol/src/main/resources/examples/seed-template-shapley.json").toString(),
                "--json");
        assertThat(explain.exitCode()).as(explain.err()).isZero();
        List<String> events = explain.out().lines().toList();
        assertThat(events.get(events.size() - 1)).contains("\"type\":\"completed\"");
    }

    @Test
    void aFolderThatIsNotThereFailsInOneLineNamingIt() throws Exception {
        String missing = tmp.resolve("no-such-libtorch").toString();
        Run r = attrib(missing, "explain", "--model", "m", "--request", "r.json");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().lines()).containsExactly("error: ATTRIB_LIBTORCH=" + missing + ": no such folder");
    }

    @Test
    void aFolderWithoutTheJniLibraryOrItsPropertiesOrItsLibraryPathIsRefusedSayingWhy() throws IOException {
        Path lacking = tmp.resolve("lacking");
        Files.createDirectories(lacking);
        Files.copy(folder.resolve("libtorch.so"), lacking.resolve("libtorch.so"), StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> Libtorch.check("ATTRIB_LIBTORCH=" + lacking, lacking))
                .hasMessageStartingWith("ATTRIB_LIBTORCH=" + lacking + ": no libdjl_torch.so in " + lacking)
                .hasMessageContaining("deploy/build-djl-jni.sh");
        Files.copy(folder.resolve("libdjl_torch.so"), lacking.resolve("libdjl_torch.so"), StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> Libtorch.check("x", lacking)).hasMessageContaining("cannot read "
                + lacking.resolve("libtorch.properties"));
        Files.writeString(lacking.resolve("libtorch.properties"), "version=2.11.0\nflavor=cu130\nlibrary_path="
                + tmp.resolve("torch/lib") + "\n");
        assertThatThrownBy(() -> Libtorch.check("x", lacking)).hasMessage("x: LD_LIBRARY_PATH lacks "
                + tmp.resolve("torch/lib") + " (its library_path; ./attrib sets it, java alone does not)");
    }
}
