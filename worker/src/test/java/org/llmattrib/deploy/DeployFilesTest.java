package org.llmattrib.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Static checks of the deployment files (deploy/ and docker-compose.yml), which nothing else in the
 * build exercises: they must parse, and the values that have to agree across files must agree.
 */
class DeployFilesTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("..").normalize();
    private static final Path DEPLOY = ROOT.resolve("deploy");
    private static final Path K8S = DEPLOY.resolve("k8s");
    private static final Path COMPOSE = ROOT.resolve("docker-compose.yml");
    private static final ObjectMapper YAML = new YAMLMapper();

    private static final String NAMESPACE = "attribution";
    private static final String REQUESTS = "attribution.requests";
    private static final List<String> TOPICS = List.of(REQUESTS, "attribution.results", "attribution.control",
            "attribution.requests.dlq", "attribution.jobs", "attribution.attempts");

    // ---------------------------------------------------------------- Kubernetes

    @Test
    void everyKubernetesDocumentHasApiVersionKindAndName() throws IOException {
        Map<Path, List<JsonNode>> files = k8sFiles();
        assertThat(files.keySet().stream().map(p -> p.getFileName().toString()))
                .contains("namespace.yaml", "worker-deployment.yaml", "worker-service.yaml",
                        "keda-scaledobject.yaml", "topics.yaml");
        files.forEach((file, docs) -> {
            assertThat(docs).as("documents in %s", file).isNotEmpty();
            for (JsonNode doc : docs) {
                String where = file.getFileName() + ": " + doc.path("kind").asText("?");
                assertThat(doc.path("apiVersion").asText()).as("apiVersion in %s", where).isNotBlank();
                assertThat(doc.path("kind").asText()).as("kind in %s", where).isNotBlank();
                assertThat(doc.path("metadata").path("name").asText()).as("metadata.name in %s", where).isNotBlank();
                String kind = doc.path("kind").asText();
                if (!kind.equals("Namespace") && !kind.equals("Kustomization")) {
                    assertThat(doc.path("metadata").path("namespace").asText())
                            .as("metadata.namespace in %s", where).isEqualTo(NAMESPACE);
                }
            }
        });
        assertThat(one("Namespace").path("metadata").path("name").asText()).isEqualTo(NAMESPACE);
    }

    @Test
    void kustomizationListsEveryManifest() throws IOException {
        JsonNode kustomization = one("Kustomization");
        Set<String> listed = new TreeSet<>();
        kustomization.path("resources").forEach(r -> listed.add(r.asText()));
        Set<String> present = k8sFiles().keySet().stream()
                .map(p -> p.getFileName().toString())
                .filter(n -> !n.equals("kustomization.yaml"))
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(listed).isEqualTo(present);
        assertThat(kustomization.path("resources").get(0).asText()).isEqualTo("namespace.yaml");
    }

    @Test
    void deploymentRunsTheWorkerOnOneGpuWithTheModelReadOnly() throws IOException {
        JsonNode deployment = deployment();
        assertThat(deployment.path("metadata").path("name").asText()).isEqualTo("attribution-worker");
        JsonNode pod = deployment.path("spec").path("template").path("spec");
        JsonNode container = workerContainer();

        // the image's ENTRYPOINT (entrypoint.sh -> java -jar /app/attrib.jar) stays; args start with `worker`
        List<String> argv = new ArrayList<>();
        container.path("command").forEach(c -> argv.add(c.asText()));
        if (!argv.isEmpty()) {
            assertThat(argv).as("an explicit command must still go through the entrypoint").containsExactly("/app/entrypoint.sh");
        }
        List<String> args = texts(container.path("args"));
        assertThat(args).first().isEqualTo("worker");
        assertThat(option(args, "--bootstrap")).isEqualTo("$(KAFKA_BOOTSTRAP)");
        assertThat(env(container, "KAFKA_BOOTSTRAP")).matches("[\\w.-]+:\\d+(,[\\w.-]+:\\d+)*");
        assertThat(option(args, "--model")).isEqualTo("/models/llama");
        assertThat(option(args, "--device")).isEqualTo("cuda");
        assertThat(option(args, "--group")).isEqualTo("attribution-workers");
        assertThat(option(args, "--queue")).isEqualTo("share");
        assertThat(Integer.parseInt(option(args, "--max-attempts"))).isBetween(1, 4);
        assertThat(option(args, "--metrics-port")).isEqualTo("9400");
        assertThat(option(args, "--instance-id")).isEqualTo("$(POD_NAME)");
        assertThat(container.path("env").findValues("fieldPath").stream().map(JsonNode::asText))
                .contains("metadata.name");

        // one GPU per worker
        assertThat(container.path("resources").path("limits").path("nvidia.com/gpu").asInt()).isEqualTo(1);

        // model: PVC llama-models, read-only at /models
        JsonNode modelVolume = named(pod.path("volumes"), "models");
        assertThat(modelVolume.path("persistentVolumeClaim").path("claimName").asText()).isEqualTo("llama-models");
        assertThat(modelVolume.path("persistentVolumeClaim").path("readOnly").asBoolean()).isTrue();
        JsonNode modelMount = named(container.path("volumeMounts"), "models");
        assertThat(modelMount.path("mountPath").asText()).isEqualTo("/models");
        assertThat(modelMount.path("readOnly").asBoolean()).isTrue();
        assertThat(one("PersistentVolumeClaim").path("metadata").path("name").asText()).isEqualTo("llama-models");
        // with a read-only root file system, DJL's cache and /tmp need volumes
        if (container.path("securityContext").path("readOnlyRootFilesystem").asBoolean()) {
            Set<String> mounts = new TreeSet<>(container.path("volumeMounts").findValuesAsText("mountPath"));
            assertThat(mounts).contains("/var/cache/attrib", "/tmp");
            assertThat(env(container, "ATTRIB_CACHE")).isEqualTo("/var/cache/attrib");
        }

        // probes on the health endpoints of the metrics port
        assertThat(container.path("readinessProbe").path("httpGet").path("path").asText()).isEqualTo("/health/ready");
        assertThat(container.path("livenessProbe").path("httpGet").path("path").asText()).isEqualTo("/health/live");
        for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
            JsonNode port = container.path(probe).path("httpGet").path("port");
            if (!container.path(probe).isMissingNode()) {
                assertThat(containerPort(container, port)).as(probe).isEqualTo(9400);
            }
        }

        // time to finish a job after SIGTERM
        assertThat(pod.path("terminationGracePeriodSeconds").asInt()).isGreaterThanOrEqualTo(300);

        // Prometheus annotations
        JsonNode annotations = deployment.path("spec").path("template").path("metadata").path("annotations");
        assertThat(annotations.path("prometheus.io/scrape").asText()).isEqualTo("true");
        assertThat(annotations.path("prometheus.io/port").asText()).isEqualTo("9400");
        assertThat(annotations.path("prometheus.io/path").asText()).isEqualTo("/metrics");

        // KEDA owns the replica count
        assertThat(deployment.path("spec").has("replicas")).isFalse();
        // selector selects the pod template
        assertThat(labelsMatch(deployment.path("spec").path("selector").path("matchLabels"),
                deployment.path("spec").path("template").path("metadata").path("labels"))).isTrue();
    }

    @Test
    void metricsServiceSelectsTheWorkerPodsOnPort9400() throws IOException {
        JsonNode service = one("Service");
        JsonNode podLabels = deployment().path("spec").path("template").path("metadata").path("labels");
        assertThat(service.path("spec").path("selector").size()).isPositive();
        assertThat(labelsMatch(service.path("spec").path("selector"), podLabels)).isTrue();
        JsonNode port = service.path("spec").path("ports").get(0);
        assertThat(port.path("port").asInt()).isEqualTo(9400);
        assertThat(containerPort(workerContainer(), port.path("targetPort"))).isEqualTo(9400);
    }

    @Test
    void kedaScalesTheShareGroupOnTheBacklogGaugeOfTheWorkers() throws IOException {
        JsonNode scaled = one("ScaledObject");
        assertThat(scaled.path("apiVersion").asText()).isEqualTo("keda.sh/v1alpha1");
        assertThat(scaled.path("spec").path("scaleTargetRef").path("name").asText()).isEqualTo("attribution-worker");

        // KEDA's Kafka scalers read consumer-group lag only: share mode scales on the workers' gauge
        JsonNode trigger = scaled.path("spec").path("triggers").get(0);
        assertThat(trigger.path("type").asText()).isEqualTo("prometheus");
        JsonNode meta = trigger.path("metadata");
        assertThat(meta.path("query").asText()).contains("attribution_queue_backlog").contains(NAMESPACE);
        assertThat(Integer.parseInt(meta.path("threshold").asText())).isPositive();
        assertThat(meta.path("serverAddress").asText()).startsWith("http");

        // the gauge comes from the workers: at least one must run; a share group is not capped by partitions
        Map<String, Integer> partitions = partitions(topicsJobScript());
        assertThat(partitions.keySet()).containsExactlyInAnyOrderElementsOf(TOPICS);
        int max = scaled.path("spec").path("maxReplicaCount").asInt();
        assertThat(scaled.path("spec").path("minReplicaCount").asInt()).isBetween(1, max);
        assertThat(max).isGreaterThan(partitions.get(REQUESTS));

        // the share group the topics Job configures is the workers' group
        String group = option(texts(workerContainer().path("args")), "--group");
        assertThat(topicsJobScript()).contains("--entity-type groups --entity-name " + group + " --add-config "
                + "share.auto.offset.reset=earliest,share.renew.acknowledge.enable=true");

        // the two places that name the Kafka cluster name the same one
        String bootstrap = env(workerContainer(), "KAFKA_BOOTSTRAP");
        assertThat(env(one("Job").path("spec").path("template").path("spec").path("containers").get(0),
                "KAFKA_BOOTSTRAP")).isEqualTo(bootstrap);
    }

    // ---------------------------------------------------------------- docker compose

    @Test
    void composeRunsKraftKafkaTopicsAndTwoGpuWorkers() throws IOException {
        JsonNode services = compose().path("services");

        JsonNode kafka = services.path("kafka");
        assertThat(kafka.path("image").asText()).isEqualTo("apache/kafka:4.3.1");
        JsonNode kenv = kafka.path("environment");
        assertThat(kenv.path("KAFKA_PROCESS_ROLES").asText()).contains("broker").contains("controller");
        assertThat(kenv.path("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS").asInt(-1)).isZero();
        assertThat(kenv.path("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR").asInt()).isEqualTo(1);
        assertThat(kenv.path("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR").asInt()).isEqualTo(1);
        assertThat(kenv.path("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR").asInt()).isEqualTo(1);
        // the workers give up (too_many_attempts) before the broker stops delivering
        int deliveryLimit = kenv.path("KAFKA_GROUP_SHARE_DELIVERY_COUNT_LIMIT").asInt();
        String advertised = kenv.path("KAFKA_ADVERTISED_LISTENERS").asText();

        JsonNode init = services.path("kafka-init");
        Map<String, Integer> partitions = partitions(String.join("\n", texts(init.path("command"))));
        assertThat(partitions).containsExactlyInAnyOrderEntriesOf(Map.of(
                "attribution.requests", 1, "attribution.results", 6,
                "attribution.control", 1, "attribution.requests.dlq", 1, "attribution.jobs", 1,
                "attribution.attempts", 1));
        assertThat(String.join("\n", texts(init.path("command"))))
                .contains("--topic attribution.attempts --partitions 1 --replication-factor 1 --config cleanup.policy=compact");

        JsonNode worker = services.path("worker");
        assertThat(worker.path("build").path("dockerfile").asText()).isEqualTo("deploy/Dockerfile.cuda");
        assertThat(ROOT.resolve(worker.path("build").path("context").asText()).resolve("deploy/Dockerfile.cuda")).exists();
        int replicas = worker.path("deploy").path("replicas").asInt();
        // share mode: every worker serves the one request partition (ShareLayoutTest)
        assertThat(replicas).isEqualTo(2).isGreaterThan(partitions.get(REQUESTS));
        JsonNode device = worker.path("deploy").path("resources").path("reservations").path("devices").get(0);
        assertThat(device).isNotNull();
        assertThat(device.path("driver").asText()).isEqualTo("nvidia");
        assertThat(device.path("count").asInt()).isEqualTo(1);
        assertThat(texts(device.path("capabilities"))).contains("gpu");
        assertThat(texts(worker.path("volumes"))).contains("${MODEL_DIR:-./models/llama}:/models/llama:ro");
        assertThat(texts(worker.path("command"))).first().isEqualTo("worker");
        assertThat(option(texts(worker.path("command")), "--queue")).isEqualTo("share");
        assertThat(Integer.parseInt(option(texts(worker.path("command")), "--max-attempts"))).isLessThan(deliveryLimit);
        assertThat(worker.path("depends_on").path("kafka-init").path("condition").asText())
                .isEqualTo("service_completed_successfully");
        String workerBootstrap = worker.path("environment").path("KAFKA_BOOTSTRAP").asText();
        assertThat(advertised).as("the workers' bootstrap address is an advertised listener")
                .contains("//" + workerBootstrap);
        assertThat(texts(worker.path("ports"))).anyMatch(p -> p.endsWith(":9400"));

        JsonNode cpu = services.path("worker-cpu");
        assertThat(texts(cpu.path("profiles"))).containsExactly("cpu");
        assertThat(cpu.path("build").path("dockerfile").asText()).isEqualTo("deploy/Dockerfile");
        assertThat(cpu.path("deploy").path("resources").path("reservations").path("devices").isMissingNode()).isTrue();
        assertThat(texts(cpu.path("volumes"))).contains("${MODEL_DIR:-./models/llama}:/models/llama:ro");
        assertThat(cpu.path("environment").path("KAFKA_BOOTSTRAP").asText()).isEqualTo(workerBootstrap);

        // the GPU profile: the official PyTorch image's own torch
        JsonNode gpu = services.path("worker-gpu");
        assertThat(texts(gpu.path("profiles"))).containsExactly("gpu");
        assertThat(gpu.path("build").path("dockerfile").asText()).isEqualTo("deploy/Dockerfile.gpu");
        JsonNode gpuDevice = gpu.path("deploy").path("resources").path("reservations").path("devices").get(0);
        assertThat(gpuDevice.path("driver").asText()).isEqualTo("nvidia");
        assertThat(texts(gpuDevice.path("capabilities"))).contains("gpu");
        assertThat(gpu.path("environment").path("DEVICE").asText()).isEqualTo("cuda");
        assertThat(gpu.path("environment").path("KAFKA_BOOTSTRAP").asText()).isEqualTo(workerBootstrap);
        assertThat(option(texts(gpu.path("command")), "--queue")).isEqualTo("share");
        assertThat(texts(gpu.path("volumes"))).contains("${MODEL_DIR:-./models/llama}:/models/llama:ro");
    }

    // ---------------------------------------------------------------- Dockerfiles and entrypoint

    @Test
    void cpuDockerfileBuildsTheJarAndRunsItThroughTheEntrypoint() throws IOException {
        List<String[]> df = dockerfile(DEPLOY.resolve("Dockerfile"));
        List<String> froms = args(df, "FROM");
        assertThat(froms).first().asString().startsWith("maven:3.9-eclipse-temurin-17 ");
        assertThat(froms).last().asString().isEqualTo("eclipse-temurin:17-jre");
        assertCommonImage(df);
        assertThat(args(df, "ENV")).anyMatch(e -> e.contains("ATTRIB_CACHE=/var/cache/attrib"))
                .anyMatch(e -> e.contains("-Dai.djl.offline=true"));
    }

    @Test
    void cudaDockerfileBuildsTheCudaProfileJarOnACuda124Runtime() throws IOException {
        List<String[]> df = dockerfile(DEPLOY.resolve("Dockerfile.cuda"));
        List<String> froms = args(df, "FROM");
        assertThat(froms).first().asString().startsWith("maven:3.9-eclipse-temurin-17 ");
        // the cuda profile's libtorch is built for CUDA 12.4: the runtime image must match it
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        assertThat(pom).contains("<pytorch.native>pytorch-native-cu124</pytorch.native>");
        assertThat(froms).last().asString().isEqualTo("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04");
        assertCommonImage(df);
        assertThat(String.join("\n", args(df, "RUN"))).contains("-Pcuda package");
        assertThat(String.join(" ", args(df, "ENV"))).contains("DEVICE=cuda", "ATTRIB_CACHE=/var/cache/attrib")
                .doesNotContain("PYTORCH_LIBRARY_PATH");
        assertThat(args(df, "COPY")).anyMatch(c -> c.startsWith("--from=eclipse-temurin:17-jre"));
    }

    @Test
    void gpuDockerfileRunsOnThePytorchImagesOwnTorchThroughItsJniBuild() throws IOException {
        List<String[]> df = dockerfile(DEPLOY.resolve("Dockerfile.gpu"));
        List<String> froms = args(df, "FROM");
        assertThat(froms).first().asString().startsWith("maven:3.9-eclipse-temurin-17 ");
        // the JNI library is compiled in the devel image of the tag whose runtime image runs it
        assertThat(froms).anyMatch(f -> f.equals("pytorch/pytorch:${PYTORCH_TAG}-devel AS jni"));
        assertThat(froms).last().asString().isEqualTo("pytorch/pytorch:${PYTORCH_TAG}-runtime");
        assertThat(args(df, "ARG")).anyMatch(a -> a.matches("PYTORCH_TAG=\\d+\\.\\d+\\.\\d+-cuda\\d+\\.\\d+-cudnn\\d+"));
        assertCommonImage(df);
        assertThat(String.join("\n", args(df, "RUN"))).contains("/src/deploy/build-djl-jni.sh --libtorch python --out /opt/attrib/libtorch");
        assertThat(args(df, "COPY")).contains("--from=jni /opt/attrib/libtorch /opt/attrib/libtorch")
                .anyMatch(c -> c.startsWith("--from=eclipse-temurin:17-jre"));
        assertThat(String.join(" ", args(df, "ENV"))).contains("DEVICE=cuda", "ATTRIB_LIBTORCH=/opt/attrib/libtorch");
        assertThat(Files.readString(DEPLOY.resolve("Dockerfile.gpu.dockerignore")).lines())
                .contains("!deploy/build-djl-jni.sh", "!deploy/entrypoint.sh", "!worker/");
    }

    @Test
    void entrypointPutsTheLibtorchFoldersLibraryPathFirst(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh");
        Path java = tmp.resolve("java");
        Files.writeString(java, "#!/bin/sh\nprintf '%s\\n' \"$LD_LIBRARY_PATH\"\n");
        assumeTrue(java.toFile().setExecutable(true));
        Path libtorch = Files.createDirectories(tmp.resolve("libtorch"));
        Files.writeString(libtorch.resolve("libtorch.properties"), "version=2.7.1\nflavor=cu128\n"
                + "library_path=/opt/torch/lib:/opt/nvidia/cublas/lib\n");
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", tmp + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        env.put("ATTRIB_LIBTORCH", libtorch.toString());
        env.put("LD_LIBRARY_PATH", "/usr/local/nvidia/lib64");
        assertThat(run(env, "selftest").argv())
                .containsExactly("/opt/torch/lib:/opt/nvidia/cublas/lib:/usr/local/nvidia/lib64");
        env.remove("ATTRIB_LIBTORCH");
        assertThat(run(env, "selftest").argv()).containsExactly("/usr/local/nvidia/lib64");
    }

    private static void assertCommonImage(List<String[]> df) {
        assertThat(String.join("\n", args(df, "RUN"))).containsPattern("mvn -B -DskipTests( -D\\S+)*( -Pcuda)? package");
        List<String> copies = args(df, "COPY");
        assertThat(copies).anyMatch(c -> c.matches("--from=build \\S*worker/target/attrib\\.jar /app/attrib\\.jar"));
        assertThat(copies).anyMatch(c -> c.matches("(--chmod=\\d+ )?deploy/entrypoint\\.sh /app/entrypoint\\.sh"));
        assertThat(args(df, "ENTRYPOINT")).containsExactly("[\"/app/entrypoint.sh\"]");
        assertThat(args(df, "CMD")).containsExactly("[\"worker\"]");
        assertThat(args(df, "EXPOSE")).contains("9400");
        assertThat(args(df, "ENV")).anyMatch(e -> e.contains("MODEL_DIR=/models/llama"));
    }

    @Test
    void entrypointExecsJavaOnTheJar() throws IOException {
        String script = Files.readString(DEPLOY.resolve("entrypoint.sh"));
        assertThat(script).startsWith("#!/bin/sh\n");
        assertThat(script.lines().filter(l -> !l.trim().startsWith("#")))
                .contains("exec java ${JAVA_OPTS:-} -jar /app/attrib.jar \"$@\"");
        assertThat(Files.isExecutable(DEPLOY.resolve("entrypoint.sh"))).as("entrypoint.sh is executable").isTrue();
    }

    @Test
    void entrypointFillsTheWorkerOptionsFromTheEnvironment(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh");
        Path java = tmp.resolve("java");
        Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        assumeTrue(java.toFile().setExecutable(true));

        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", tmp + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        env.put("KAFKA_BOOTSTRAP", "kafka:19092");
        env.put("DEVICE", "cuda");
        env.put("JAVA_OPTS", "-Dai.djl.offline=true -Xmx1g");

        assertThat(run(env, "worker", "--group", "g")).isEqualTo(new Result(0, List.of(
                "-Dai.djl.offline=true", "-Xmx1g", "-jar", "/app/attrib.jar",
                "worker", "--bootstrap", "kafka:19092", "--model", "/models/llama", "--device", "cuda",
                "--group", "g")));
        // explicit options win; MODEL_DIR is honoured
        env.put("MODEL_DIR", "/m");
        assertThat(run(env, "worker", "--bootstrap=b:1", "--device", "cpu").argv()).containsExactly(
                "-Dai.djl.offline=true", "-Xmx1g", "-jar", "/app/attrib.jar",
                "worker", "--model", "/m", "--bootstrap=b:1", "--device", "cpu");
        // other subcommands pass through untouched
        assertThat(run(env, "submit", "--help").argv()).containsExactly(
                "-Dai.djl.offline=true", "-Xmx1g", "-jar", "/app/attrib.jar", "submit", "--help");
        // no Kafka address: refuse rather than start a worker that cannot connect
        env.remove("KAFKA_BOOTSTRAP");
        assertThat(run(env, "worker").exit()).isEqualTo(64);
    }

    private record Result(int exit, List<String> argv) {}

    private static Result run(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", DEPLOY.resolve("entrypoint.sh").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out.lines().collect(Collectors.toList()));
    }

    // ---------------------------------------------------------------- helpers

    private static Map<Path, List<JsonNode>> k8sFiles() throws IOException {
        Map<Path, List<JsonNode>> out = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(K8S)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml"))
                    .sorted().collect(Collectors.toList())) {
                out.put(f, readAll(f));
            }
        }
        assertThat(out).isNotEmpty();
        return out;
    }

    private static List<JsonNode> readAll(Path f) throws IOException {
        List<JsonNode> docs = new ArrayList<>();
        try (var parser = new YAMLFactory().createParser(f.toFile())) {
            var it = YAML.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
                    docs.add(doc);
                }
            }
        }
        return docs;
    }

    private static JsonNode compose() throws IOException {
        List<JsonNode> docs = readAll(COMPOSE);
        assertThat(docs).hasSize(1);
        return docs.get(0);
    }

    /** The only k8s document of that kind. */
    private static JsonNode one(String kind) throws IOException {
        List<JsonNode> found = k8sFiles().values().stream().flatMap(List::stream)
                .filter(d -> d.path("kind").asText().equals(kind)).collect(Collectors.toList());
        assertThat(found).as("documents of kind %s", kind).hasSize(1);
        return found.get(0);
    }

    private static JsonNode deployment() throws IOException {
        return one("Deployment");
    }

    private static JsonNode workerContainer() throws IOException {
        return named(deployment().path("spec").path("template").path("spec").path("containers"), "worker");
    }

    private static JsonNode named(JsonNode array, String name) {
        for (JsonNode n : array) {
            if (n.path("name").asText().equals(name)) {
                return n;
            }
        }
        throw new AssertionError("no entry named " + name + " in " + array);
    }

    private static String env(JsonNode container, String name) {
        return named(container.path("env"), name).path("value").asText();
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array.isArray()) {
            array.forEach(n -> out.add(n.asText()));
        } else if (!array.isMissingNode() && !array.isNull()) {
            out.add(array.asText());
        }
        return out;
    }

    /** The value after {@code name} in an argument list. */
    private static String option(List<String> args, String name) {
        int i = args.indexOf(name);
        assertThat(i).as("option %s in %s", name, args).isNotNegative().isLessThan(args.size() - 1);
        return args.get(i + 1);
    }

    private static int containerPort(JsonNode container, JsonNode port) {
        if (port.isInt()) {
            return port.asInt();
        }
        return named(container.path("ports"), port.asText()).path("containerPort").asInt();
    }

    private static boolean labelsMatch(JsonNode selector, JsonNode labels) {
        var it = selector.fields();
        while (it.hasNext()) {
            var e = it.next();
            if (!labels.path(e.getKey()).asText().equals(e.getValue().asText())) {
                return false;
            }
        }
        return true;
    }

    /** The script that the topics Job runs. */
    private static String topicsJobScript() throws IOException {
        JsonNode job = one("Job");
        assertThat(job.path("metadata").path("name").asText()).isEqualTo("attribution-topics");
        JsonNode c = job.path("spec").path("template").path("spec").path("containers").get(0);
        return String.join("\n", texts(c.path("command"))) + "\n" + String.join("\n", texts(c.path("args")));
    }

    private static final Pattern CREATE = Pattern.compile(
            "kafka-topics\\.sh[^\\n]*--create[^\\n]*--topic (\\S+)[^\\n]*--partitions (\\d+)");

    /** topic -> partitions of each {@code kafka-topics.sh --create ... --topic T ... --partitions N} line. */
    private static Map<String, Integer> partitions(String script) {
        Map<String, Integer> out = new LinkedHashMap<>();
        Matcher m = CREATE.matcher(script);
        while (m.find()) {
            assertThat(out.put(m.group(1), Integer.parseInt(m.group(2)))).as("topic %s created twice", m.group(1)).isNull();
        }
        return out;
    }

    /** Dockerfile instructions as {KEYWORD, arguments}, continuation lines joined, comments dropped. */
    private static List<String[]> dockerfile(Path file) throws IOException {
        List<String[]> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : Files.readAllLines(file)) {
            String t = line.strip();
            if (t.startsWith("#") || (t.isEmpty() && cur.length() == 0)) {
                continue;
            }
            if (t.endsWith("\\")) {
                cur.append(t, 0, t.length() - 1).append(' ');
                continue;
            }
            cur.append(t);
            String ins = cur.toString().strip().replaceAll("\\s+", " ");
            cur.setLength(0);
            if (ins.isEmpty()) {
                continue;
            }
            int sp = ins.indexOf(' ');
            out.add(new String[] {ins.substring(0, sp).toUpperCase(), ins.substring(sp + 1)});
        }
        assertThat(cur.toString().strip()).as("dangling continuation in %s", file).isEmpty();
        return out;
    }

    private static List<String> args(List<String[]> instructions, String keyword) {
        return instructions.stream().filter(i -> i[0].equals(keyword)).map(i -> i[1]).collect(Collectors.toList());
    }

    private static String xmlProperty(String pom, String name) {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(pom);
        assertThat(m.find()).as("property %s in pom.xml", name).isTrue();
        return m.group(1).trim();
    }
}
