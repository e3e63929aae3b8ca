package org.llmattrib.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./attrib} launcher, run by bash in a copy of the project's layout with {@code mvn} and
 * {@code java} replaced by scripts that write down how they were called: what it rebuilds, and what
 * it hands the JVM for a libtorch of one's own.
 */
class LauncherTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("..").normalize();

    @TempDir
    Path project;
    Path bin;

    @BeforeEach
    void layout() throws IOException {
        Files.copy(ROOT.resolve("attrib"), project.resolve("attrib"));
        for (String module : new String[] {"worker", "gateway", "protocol"}) {
            Files.createDirectories(project.resolve(module + "/src/main"));
        }
        Files.createDirectories(project.resolve("worker/target"));
        Files.writeString(project.resolve("worker/target/attrib.jar"), "a jar");
        bin = Files.createDirectories(project.resolve("bin"));
        script("mvn", "echo \"$@\" > \"$(dirname \"$0\")/mvn.args\"");
        script("java", "{ echo \"args: $*\"; echo \"ATTRIB_LIBTORCH=${ATTRIB_LIBTORCH:-}\";"
                + " echo \"LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}\";"
                + " echo \"TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=${TORCH_ALLOW_TF32_CUBLAS_OVERRIDE:-unset}\"; }"
                + " > \"$(dirname \"$0\")/java.out\"");
    }

    private void script(String name, String body) throws IOException {
        Path p = bin.resolve(name);
        Files.writeString(p, "#!/usr/bin/env bash\n" + body + "\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private void sourceNewerThanTheJar() throws IOException {
        Files.setLastModifiedTime(project.resolve("worker/target/attrib.jar"), FileTime.from(Instant.now().minusSeconds(60)));
        Files.writeString(project.resolve("worker/src/main/Changed.java"), "class Changed {}");
    }

    private String launch(String env, String... args) throws Exception {
        String command = env + " PATH=" + bin + ":/usr/bin:/bin bash " + project.resolve("attrib") + " "
                + String.join(" ", args);
        Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    /** NVIDIA's PyTorch containers set TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1: float32 would silently be TF32. */
    @Test
    void float32StaysFloat32OnAGpuUnlessTf32IsAskedFor() throws Exception {
        String out = launch("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1", "selftest", "--device", "cuda");
        assertThat(out).contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 ignored");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=0")
                .contains("args: -Dai.djl.offline=true -jar " + project.resolve("worker/target/attrib.jar")
                        + " selftest --device cuda");
        launch("", "--tf32", "selftest", "--device", "cuda");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1")
                .contains(" selftest --device cuda");
        launch("ATTRIB_TF32=1", "selftest");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1");
        String quiet = launch("", "selftest");
        assertThat(quiet).doesNotContain("TF32");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=0");
    }

    @Test
    void aCudaBuildIsRebuiltAsOne() throws Exception {
        Files.writeString(project.resolve("worker/target/attrib-build.properties"),
                "pytorch.native=pytorch-native-cu124\n");
        sourceNewerThanTheJar();
        String out = launch("", "selftest");
        assertThat(out).contains("is a CUDA build: rebuilding it with -Pcuda");
        assertThat(Files.readString(bin.resolve("mvn.args"))).contains("-Pcuda").contains("package");
    }

    @Test
    void aCpuBuildIsRebuiltAsOneAndAnUpToDateJarIsNotRebuilt() throws Exception {
        Files.writeString(project.resolve("worker/target/attrib-build.properties"), "pytorch.native=pytorch-native-cpu\n");
        sourceNewerThanTheJar();
        launch("", "selftest");
        assertThat(Files.readString(bin.resolve("mvn.args"))).doesNotContain("-Pcuda").contains("package");
        Files.delete(bin.resolve("mvn.args"));
        Files.setLastModifiedTime(project.resolve("worker/target/attrib.jar"), FileTime.from(Instant.now().plusSeconds(60)));
        launch("", "selftest");
        assertThat(bin.resolve("mvn.args")).doesNotExist();
    }

    @Test
    void aLibtorchFolderReachesTheJvmWithItsLibraryPath() throws Exception {
        Path folder = Files.createDirectories(project.resolve("libtorch"));
        Files.writeString(folder.resolve("libtorch.properties"), "version=2.11.0\nflavor=cu130\nlibrary_path=/t/lib:/n/lib\n");
        Files.setLastModifiedTime(project.resolve("worker/target/attrib.jar"), FileTime.from(Instant.now().plusSeconds(60)));

        launch("LD_LIBRARY_PATH=/usr/local/lib", "--libtorch", folder.toString(), "selftest", "--device", "cuda");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("ATTRIB_LIBTORCH=" + folder)
                .contains("LD_LIBRARY_PATH=/t/lib:/n/lib:/usr/local/lib").contains("-jar")
                .contains("attrib.jar selftest --device cuda").doesNotContain("--libtorch");

        launch("ATTRIB_LIBTORCH=" + folder, "explain");
        assertThat(Files.readString(bin.resolve("java.out"))).contains("ATTRIB_LIBTORCH=" + folder)
                .contains("LD_LIBRARY_PATH=/t/lib:/n/lib\n");
    }
}
