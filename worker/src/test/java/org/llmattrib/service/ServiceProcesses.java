package org.llmattrib.service;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.llmattrib.llama.TestModels;

/**
 * `attrib worker` and `attrib broker` in JVMs of their own, started through the command line with
 * the test classpath, as an operator would run them: what the failure and chaos tests kill.
 */
public final class ServiceProcesses {
    private static final Pattern METRICS = Pattern.compile(" ready: group .*, metrics on [^:\\s]+:(\\d+)");

    private ServiceProcesses() {}

    /**
     * `attrib worker` on the tiny model, its health on 127.0.0.1 (a free port), a short session
     * timeout, returned once it printed that it is ready.
     *
     * @param extraArgs further command-line options (--instance-id, say)
     */
    public static Process worker(String bootstrap, String group, Path stderr, String... extraArgs) throws Exception {
        Files.createDirectories(stderr.toAbsolutePath().getParent());
        Files.deleteIfExists(stderr);
        List<String> command = new ArrayList<>(List.of(java(), "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "-Dai.djl.offline=true"));
        command.addAll(List.of("org.llmattrib.cli.Main", "worker", "--bootstrap", bootstrap,
                "--model", TestModels.tinyLlama3Dir().toAbsolutePath().toString(), "--group", group,
                "--metrics-port", "0", "--bind-address", "127.0.0.1", "--session-timeout-ms", "3000"));
        command.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(command).redirectError(stderr.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            await("worker process ready (see " + stderr + ")").atMost(Duration.ofSeconds(120))
                    .pollInterval(Duration.ofMillis(100)).until(() -> {
                        if (!p.isAlive()) {
                            throw new AssertionError("the worker process exited with " + p.exitValue() + ":\n"
                                    + read(stderr));
                        }
                        return read(stderr).contains(" ready: group " + group);
                    });
        } catch (RuntimeException | AssertionError e) {
            p.destroyForcibly();
            throw e;
        }
        return p;
    }

    /** The /metrics and /health/* port a worker process printed when it became ready. */
    public static int metricsPort(Path stderr) throws IOException {
        Matcher m = METRICS.matcher(read(stderr));
        if (!m.find()) {
            throw new AssertionError("no metrics port in " + stderr + ":\n" + tail(read(stderr), 2000));
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * `attrib broker` on 127.0.0.1:port with its data in {@code data} and the default topic layout,
     * returned once it printed that it is ready.
     */
    public static Process broker(int port, Path data, Path stdout) throws Exception {
        Files.createDirectories(stdout.toAbsolutePath().getParent());
        Process p = new ProcessBuilder(java(), "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "org.llmattrib.cli.Main", "broker", "--port", String.valueOf(port), "--data-dir", data.toString())
                .redirectOutput(stdout.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            await("broker ready (see " + stdout + ")").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .until(() -> {
                        if (!p.isAlive()) {
                            throw new AssertionError("the broker process exited with " + p.exitValue() + ":\n"
                                    + read(stdout));
                        }
                        return read(stdout).contains("broker ready on 127.0.0.1:" + port);
                    });
        } catch (RuntimeException | AssertionError e) {
            p.destroyForcibly();
            throw e;
        }
        return p;
    }

    /** SIGTERM (the shutdown hook stops the service cleanly), then waits for the exit. */
    public static boolean stop(Process p, Duration timeout) throws InterruptedException {
        p.destroy();
        return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A port free on loopback now (for a service that must keep one port across restarts). */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The status of GET http://127.0.0.1:port/path, or -1 when nothing answers. */
    public static int http(int port, String path) {
        try {
            return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                    .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    public static String read(Path file) throws IOException {
        return Files.exists(file) ? new String(Files.readAllBytes(file), StandardCharsets.UTF_8) : "";
    }

    public static String tail(String s, int chars) {
        return s.length() <= chars ? s : "..." + s.substring(s.length() - chars);
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
