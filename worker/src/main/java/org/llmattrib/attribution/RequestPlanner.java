package org.llmattrib.attribution;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.llmattrib.attribution.gradient.IntegrationRule;
import org.llmattrib.attribution.gradient.LayerGradientShap;
import org.llmattrib.attribution.gradient.LayerGradientXActivation;
import org.llmattrib.attribution.gradient.LayerIntegratedGradients;
import org.llmattrib.attribution.input.PromptFeatures;
import org.llmattrib.attribution.perturbation.FeatureAblation;
import org.llmattrib.attribution.perturbation.KernelShap;
import org.llmattrib.attribution.perturbation.Lime;
import org.llmattrib.attribution.perturbation.ShapleyValueSampling;
import org.llmattrib.attribution.perturbation.ShapleyValues;
import org.llmattrib.attribution.plan.ChatPlanner;
import org.llmattrib.attribution.plan.InputPlanner;
import org.llmattrib.attribution.plan.SegmentsPlanner;
import org.llmattrib.attribution.plan.TemplatePlanner;
import org.llmattrib.attribution.plan.TokensPlanner;
import org.llmattrib.attribution.plan.Vocabulary;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.protocol.AttrTarget;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.InputSpec;
import org.llmattrib.protocol.MethodSpec;

/**
 * Resolves a protocol request against the loaded model into a {@link Job}, or says which field is
 * wrong. The input's features come from the planner of its type ({@link InputPlanner}); the
 * method, layers, target and quantity are resolved here. Every {@link Limits limit} is checked
 * here, before any model work: first the request's numbers, then what tokenizing tells (prompt and
 * target tokens, features, layers), last the {@link CostEstimate estimated FLOPs} of the whole plan.
 */
public final class RequestPlanner {
    /** Methods that take {@code method.n_samples}. */
    private static final Set<String> SAMPLED = Set.of("shapley_value_sampling", "kernel_shap", "lime",
            "layer_gradient_shap");

    private final Llama llama;
    private final Limits limits;
    private final Vocabulary vocabulary;
    private final TokensPlanner tokens;
    private final TemplatePlanner templates;
    private final SegmentsPlanner segments;
    private final ChatPlanner chats;

    public RequestPlanner(Llama llama, Limits limits) {
        this.llama = llama;
        this.limits = limits;
        this.vocabulary = new Vocabulary(llama);
        this.tokens = new TokensPlanner(vocabulary, limits.maxPromptTokens());
        this.templates = new TemplatePlanner(vocabulary);
        this.segments = new SegmentsPlanner(vocabulary);
        this.chats = new ChatPlanner(vocabulary, limits.maxPromptTokens());
    }

    /** @param requestBytes the size of the request's JSON */
    public Job plan(AttributionRequest r, int requestBytes) {
        Limits.check(null, "the request's size in bytes", requestBytes, limits.maxRequestBytes(), "--max-request-bytes");
        checkNumbers(r);
        PromptFeatures features = features(r.input());
        long[] prompt = features.fullPrompt();
        Limits.check("input", "the prompt's token count", prompt.length, limits.maxPromptTokens(), "--max-prompt-tokens");
        if (features.featureCount() == 0) {
            throw RequestException.invalid("input", "the prompt has no features to attribute to");
        }
        Job.Method method = method(r.method());
        if (method instanceof Job.Perturbation p) {
            p.method().check(features.featureCount());
            if (p.method() instanceof ShapleyValues && features.featureCount() > limits.maxShapleyFeatures()) {
                throw Limits.exceeded("input", "exact Shapley values over " + features.featureCount() + " features need"
                        + " 2^" + features.featureCount() + " evaluations per trial; this worker's limit is "
                        + limits.maxShapleyFeatures() + " features (--max-shapley-features); group features with a"
                        + " mask or use shapley_value_sampling");
            }
        }
        boolean gradient = method instanceof Job.Gradient;
        if (r.layers() != null && !gradient) {
            throw RequestException.invalid("layers", "layers apply to gradient methods only, not to " + r.method().name());
        }
        List<String> layers = gradient ? layers(r.layers() == null ? List.of("model.embed_tokens") : r.layers()) : List.of();
        Limits.check("layers", "the number of layers", layers.size(), limits.maxLayers(), "--max-layers");
        MethodSpec m = r.method();
        if (m.attributeToLayerInputOrDefault()) {
            throw RequestException.invalid("method.attribute_to_layer_input", "attributing to a layer's input is not"
                    + " supported; name the tap that produces that input instead (e.g. model.layers.N.input_layernorm"
                    + " for the q/k/v projections, model.layers.N.post_attention_layernorm for the MLP)");
        }
        int rows = gradient ? m.internalBatchSizeOrDefault() : m.perturbationsPerEvalOrDefault();
        long[] target = target(r);
        Quantity quantity = quantity(r.attrTargetOrDefault());
        if (target != null) {
            quantity.check(target);
        }
        Job job = new Job(r.jobId(), features, target, r.maxNewTokensOrDefault(), method, layers,
                r.multiLayerOrDefault().equals("joint"), quantity, r.numTrialsOrDefault(),
                Job.Reduce.valueOf(r.reduceOrDefault().toUpperCase(java.util.Locale.ROOT)), m.seedOrDefault(),
                rows, deadline(r.deadline()));
        limits.checkCost(CostEstimate.of(llama.model().config(), llama.model().dtype(), job));
        return job;
    }

    /** The request's own numbers that its method uses, before anything is tokenized. */
    private void checkNumbers(AttributionRequest r) {
        MethodSpec m = r.method();
        boolean gradient = m.name().startsWith("layer_");
        if (m.name().equals("layer_integrated_gradients")) {
            Limits.check("method.n_steps", "n_steps", m.nStepsOrDefault(), limits.maxSteps(), "--max-steps");
        }
        if (SAMPLED.contains(m.name())) {
            Limits.check("method.n_samples", "n_samples", m.nSamplesOrDefault(), limits.maxSamples(), "--max-samples");
        }
        if (gradient) {
            Limits.check("method.internal_batch_size", "internal_batch_size", m.internalBatchSizeOrDefault(),
                    limits.maxBatchRows(), "--max-batch-rows");
        } else {
            Limits.check("num_trials", "num_trials", r.numTrialsOrDefault(), limits.maxTrials(), "--max-trials");
            Limits.check("method.perturbations_per_eval", "perturbations_per_eval", m.perturbationsPerEvalOrDefault(),
                    limits.maxBatchRows(), "--max-batch-rows");
        }
        if (r.targetIds() != null) {
            Limits.check("target_ids", "the number of target ids", r.targetIds().size(), limits.maxTargetTokens(),
                    "--max-target-tokens");
        } else if (r.target() == null) {
            Limits.check("generation.max_new_tokens", "max_new_tokens", r.maxNewTokensOrDefault(),
                    limits.maxTargetTokens(), "--max-target-tokens");
        }
    }

    private PromptFeatures features(InputSpec input) {
        if (input instanceof InputSpec.Tokens t) {
            return tokens.features(t);
        }
        if (input instanceof InputSpec.Template t) {
            return templates.features(t);
        }
        if (input instanceof InputSpec.Segments s) {
            return segments.features(s);
        }
        return chats.features((InputSpec.Chat) input);
    }

    private long[] target(AttributionRequest r) {
        if (r.targetIds() != null) {
            long[] ids = new long[r.targetIds().size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = vocabulary.checkTokenId(r.targetIds().get(i), "target_ids[" + i + "]");
            }
            return ids;
        }
        if (r.target() != null) {
            LlamaTokenizer tok = vocabulary.tokenizer("target");
            Vocabulary.checkLength(r.target(), tok, "target", "the target", limits.maxTargetTokens(),
                    "--max-target-tokens");
            long[] ids = tok.encodePlain(r.target()).ids();
            if (ids.length == 0) {
                throw RequestException.invalid("target", "the target text is empty: nothing to attribute");
            }
            Limits.check("target", "the target's token count", ids.length, limits.maxTargetTokens(), "--max-target-tokens");
            return ids;
        }
        return null;
    }

    private Quantity quantity(AttrTarget a) {
        return switch (a.kind()) {
            case LOG_PROB -> new Quantity.LogProb();
            case PROB -> new Quantity.Prob();
            case CONTRAST -> {
                long[] ids = a.ids() != null ? a.ids().stream().mapToLong(Long::longValue).toArray()
                        : vocabulary.tokenizer("attr_target.text").encodePlain(a.text()).ids();
                if (ids.length == 0) {
                    throw RequestException.invalid("attr_target.text", "the contrast text has no tokens");
                }
                for (long id : ids) {
                    vocabulary.checkTokenId(id, "attr_target.ids");
                }
                yield new Quantity.Contrast(ids);
            }
        };
    }

    private static Job.Method method(MethodSpec m) {
        return switch (m.name()) {
            case "feature_ablation" -> new Job.Perturbation(m.name(), new FeatureAblation());
            case "shapley_values" -> new Job.Perturbation(m.name(), new ShapleyValues(m.maxFeaturesOrDefault()));
            case "shapley_value_sampling" -> new Job.Perturbation(m.name(), new ShapleyValueSampling(m.nSamplesOrDefault()));
            case "kernel_shap" -> new Job.Perturbation(m.name(), new KernelShap(m.nSamplesOrDefault()));
            case "lime" -> new Job.Perturbation(m.name(), new Lime(m.nSamplesOrDefault()));
            case "layer_integrated_gradients" -> new Job.Gradient(m.name(), m.autoSteps()
                    ? new LayerIntegratedGradients(IntegrationRule.parse(m.integrationOrDefault()),
                            MethodSpec.FIRST_AUTO_STEPS, m.toleranceOrDefault(), MethodSpec.MAX_AUTO_STEPS)
                    : new LayerIntegratedGradients(IntegrationRule.parse(m.integrationOrDefault()), m.nStepsOrDefault()));
            case "layer_gradient_x_activation" -> new Job.Gradient(m.name(), new LayerGradientXActivation());
            case "layer_gradient_shap" -> new Job.Gradient(m.name(), new LayerGradientShap(m.nSamplesOrDefault(),
                    m.stdevsOrDefault()));
            default -> throw new RequestException(ErrorCode.UNKNOWN_METHOD, "method.name", "unknown method '" + m.name() + "'");
        };
    }

    private List<String> layers(List<String> patterns) {
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < patterns.size(); i++) {
            try {
                out.addAll(llama.model().resolveTaps(patterns.get(i)));
            } catch (IllegalArgumentException e) {
                throw new RequestException(ErrorCode.UNKNOWN_LAYER, "layers[" + i + "]", e.getMessage());
            }
        }
        return List.copyOf(out);
    }

    private static Instant deadline(String deadline) {
        if (deadline == null) {
            return null;
        }
        try {
            return Instant.parse(deadline);
        } catch (DateTimeParseException e) {
            throw RequestException.invalid("deadline", "'" + deadline + "' is not an ISO-8601 instant like"
                    + " 2026-11-28T10:00:00Z");
        }
    }

}
