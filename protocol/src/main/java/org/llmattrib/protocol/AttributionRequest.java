package org.llmattrib.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.UUID;

/**
 * An attribution job (schema {@code attribution-request/v1}, topic {@code attribution.requests},
 * key = job id). Optional fields are null when absent; the accessors named {@code ...OrDefault}
 * apply the documented defaults.
 *
 * @param schema always {@value #SCHEMA}
 * @param jobId 1 to 200 characters of {@code [A-Za-z0-9._:-]}
 * @param model informative: the model the client expects
 * @param input the prompt and its interpretable features
 * @param target the target text (tokenized without special tokens); with {@code targetIds} absent too,
 *     the target is generated greedily
 * @param targetIds the target as token ids
 * @param generation how to generate a target
 * @param method the attribution method
 * @param layers gradient methods: layer names or globs like {@code model.layers.*.mlp}
 * @param multiLayer independent (default) or joint
 * @param attrTarget log_prob (default), prob, or a contrast against other tokens
 * @param numTrials attributions averaged over this many trials (1)
 * @param reduce sum (default), l2 or none over the hidden dimension
 * @param deadline ISO-8601 instant after which the job stops
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AttributionRequest(
        String schema,
        String jobId,
        String model,
        InputSpec input,
        String target,
        List<Long> targetIds,
        Generation generation,
        MethodSpec method,
        List<String> layers,
        String multiLayer,
        AttrTarget attrTarget,
        Integer numTrials,
        String reduce,
        String deadline) {

    public static final String SCHEMA = "attribution-request/v1";

    /** The job id given to a request that has none (by the gateway and the command line): {@code job-<random UUID>}. */
    public static String newJobId() {
        return "job-" + UUID.randomUUID();
    }

    /** Greedy generation of the target when neither {@code target} nor {@code target_ids} is given. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Generation(Integer maxNewTokens) {
        public int maxNewTokensOrDefault() {
            return maxNewTokens == null ? 25 : maxNewTokens;
        }
    }

    public String multiLayerOrDefault() {
        return multiLayer == null ? "independent" : multiLayer;
    }

    public AttrTarget attrTargetOrDefault() {
        return attrTarget == null ? AttrTarget.LOG_PROB : attrTarget;
    }

    public int numTrialsOrDefault() {
        return numTrials == null ? 1 : numTrials;
    }

    public String reduceOrDefault() {
        return reduce == null ? "sum" : reduce;
    }

    public int maxNewTokensOrDefault() {
        return generation == null ? 25 : generation.maxNewTokensOrDefault();
    }
}
