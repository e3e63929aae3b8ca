package org.llmattrib.attribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Job ids and layer names never become paths outside the store, whatever reaches the store. */
class ResultStoreTest {
    @ParameterizedTest
    @ValueSource(strings = {"..", "../x", "../../etc", "/tmp/elsewhere", ".", "a/../..", "a/b"})
    void aJobIdLeadingOutOfTheStoreIsRefusedAndNothingIsWritten(String jobId, @TempDir Path dir) throws Exception {
        Path store = dir.resolve("store");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray tensor = manager.ones(new ai.djl.ndarray.types.Shape(2, 3));
            assertThatThrownBy(() -> new ResultStore(store).write(jobId, 0, "model.embed_tokens", tensor))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inside the result store");
            assertThatThrownBy(() -> new ResultStore(store).write("job", 0, "../../../escaped", tensor))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    @Test
    void anOrdinaryJobIdIsWrittenUnderTheStore(@TempDir Path store) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            String uri = new ResultStore(store).write("job-1:retry.2", 3, "model.layers.0.mlp",
                    manager.ones(new ai.djl.ndarray.types.Shape(2, 3)));
            Path file = Path.of(java.net.URI.create(uri));
            assertThat(file).isRegularFile().startsWith(store.toAbsolutePath());
            assertThat(store.relativize(file).toString()).isEqualTo("job-1:retry.2/token-3/model.layers.0.mlp.npy");
        }
    }
}
