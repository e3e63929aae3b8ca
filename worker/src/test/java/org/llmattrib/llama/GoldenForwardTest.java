package org.llmattrib.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our forward against an independent fp64 implementation of Hugging Face's LlamaForCausalLM. */
class GoldenForwardTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void logitsAndTapsMatchTheReference(String name) {
        Llama llama = TestModels.goldenModel(name, DataType.FLOAT32);
        LlamaModel model = llama.model();
        for (JsonNode seq : TestModels.expected().path(name).path("sequences")) {
            long[] ids = TestModels.ids(seq.path("ids"));
            JsonNode taps = seq.path("taps");
            try (NDManager m = model.manager().newSubManager()) {
                Taps capture = Taps.capturing(new HashSet<>(model.tapNames()));
                NDArray idArray = m.create(ids).reshape(1, ids.length);
                NDArray hidden = model.forward(idArray, m.ones(idArray.getShape()), capture, null);
                long[] all = new long[ids.length];
                for (int i = 0; i < all.length; i++) {
                    all[i] = i;
                }
                float[] logits = model.logitsAt(hidden, all).toFloatArray();
                int vocab = model.config().vocabSize();
                JsonNode expected = seq.path("logits");
                for (int p = 0; p < ids.length; p++) {
                    for (int v = 0; v < vocab; v++) {
                        assertThat((double) logits[p * vocab + v]).as("logit[%d][%d]", p, v)
                                .isCloseTo(expected.get(p).get(v).asDouble(), within(1e-4));
                    }
                }
                for (Iterator<Map.Entry<String, JsonNode>> it = taps.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> tap = it.next();
                    NDArray out = capture.captured(tap.getKey()).toType(DataType.FLOAT64, false);
                    assertThat(out.getShape().getShape()).as(tap.getKey())
                            .containsExactly(1, tap.getValue().path("shape").get(0).asLong(),
                                    tap.getValue().path("shape").get(1).asLong());
                    double sum = out.sum().getDouble();
                    double sumSq = out.square().sum().getDouble();
                    double expectedSumSq = tap.getValue().path("sum_sq").asDouble();
                    assertThat(sum).as("%s sum", tap.getKey())
                            .isCloseTo(tap.getValue().path("sum").asDouble(), within(1e-5 * Math.sqrt(expectedSumSq) * 10 + 1e-4));
                    assertThat(sumSq).as("%s sum_sq", tap.getKey())
                            .isCloseTo(expectedSumSq, within(1e-5 * expectedSumSq + 1e-4));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void teacherForcedScoringMatchesTheReference(String name) {
        JsonNode scoring = TestModels.expected().path(name).path("scoring");
        double[] logProbs = TestModels.goldenModel(name, DataType.FLOAT32)
                .score(TestModels.ids(scoring.path("prompt_ids")), TestModels.ids(scoring.path("target_ids")));
        double[] expected = TestModels.doubles(scoring.path("log_probs"));
        for (int t = 0; t < expected.length; t++) {
            assertThat(logProbs[t]).as("log p(target %d)", t).isCloseTo(expected[t], within(1e-4));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama-tied", "tiny-llama-sharded"})
    void greedyGenerationMatchesTheReference(String name) {
        JsonNode greedy = TestModels.expected().path(name).path("greedy");
        long[] generated = TestModels.goldenModel(name, DataType.FLOAT32).generate(
                TestModels.ids(greedy.path("prompt_ids")), greedy.path("max_new_tokens").asInt(), false);
        assertThat(generated).containsExactly(TestModels.ids(greedy.path("generated_ids")));
    }
}
