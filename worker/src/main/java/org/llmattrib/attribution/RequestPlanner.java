package org.llmattrib.attribution;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.llmattrib.attribution.gradient.IntegrationRule;
import org.llmattrib.attribution.gradient.LayerGradientShap;
import org.llmattrib.attribution.gradient.LayerGradientXActivation;
import org.llmattrib.attribution.gradient.LayerIntegratedGradients;
import org.llmattrib.attribution.input.Baselines;
import org.llmattrib.attribution.input.PromptFeatures;
import org.llmattrib.attribution.input.TextFeatures;
import org.llmattrib.attribution.input.TokenFeatures;
import org.llmattrib.attribution.input.Templates;
import org.llmattrib.attribution.perturbation.FeatureAblation;
import org.llmattrib.attribution.perturbation.KernelShap;
import org.llmattrib.attribution.perturbation.Lime;
import org.llmattrib.attribution.perturbation.ShapleyValueSampling;
import org.llmattrib.attribution.perturbation.ShapleyValues;
import org.llmattrib.llama.ChatTemplate;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaTokenizer;
import org.llmattrib.protocol.AttrTarget;
import org.llmattrib.protocol.AttributionRequest;
import org.llmattrib.protocol.ErrorCode;
import org.llmattrib.protocol.InputSpec;
import org.llmattrib.protocol.MethodSpec;

/**
 * Resolves a protocol request against the loaded model into a {@link Job}, or says which field is
 * wrong. Every {@link Limits limit} is checked here, before any model work: first the request's
 * numbers, then what tokenizing tells (prompt and target tokens, features, layers), last the
 * {@link CostEstimate estimated FLOPs} of the whole plan.
 */
public final class RequestPlanner {
    /** Methods that take {@code method.n_samples}. */
    private static final Set<String> SAMPLED = Set.of("shapley_value_sampling", "kernel_shap", "lime",
            "layer_gradient_shap");

    private final Llama llama;
    private final Limits limits;

    public RequestPlanner(Llama llama, Limits limits) {
        this.llama = llama;
        this.limits = limits;
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

    private LlamaTokenizer tokenizer(String field) {
        return llama.tokenizer().orElseThrow(() -> RequestException.invalid(field, "the model directory "
                + llama.directory() + " has no tokenizer.json, so text cannot be tokenized; give target_ids and"
                + " a model with a tokenizer"));
    }

    private PromptFeatures features(InputSpec input) {
        if (input instanceof InputSpec.Tokens t) {
            return tokenFeatures(t);
        }
        if (input instanceof InputSpec.Chat c) {
            return chatFeatures(c);
        }
        Function<String, long[]> tokenize = text -> tokenizer("input").encodePrompt(text).ids();
        if (input instanceof InputSpec.Segments s) {
            List<String> baselines = s.baselines() == null ? java.util.Collections.nCopies(s.segments().size(), "")
                    : s.baselines();
            if (baselines.size() != s.segments().size()) {
                throw RequestException.invalid("input.baselines", "has " + baselines.size() + " entries for "
                        + s.segments().size() + " segments");
            }
            int[] identity = java.util.stream.IntStream.range(0, s.segments().size()).toArray();
            return new TextFeatures(s.segments(), new Baselines.Fixed(baselines), identity, s::render, tokenize);
        }
        return templateFeatures((InputSpec.Template) input, tokenize);
    }

    private TokenFeatures tokenFeatures(InputSpec.Tokens t) {
        LlamaTokenizer tok = tokenizer("input.text");
        checkLength(t.text(), tok, "input", "the prompt", limits.maxPromptTokens(), "--max-prompt-tokens");
        LlamaTokenizer.Tokens prompt = tok.encodePrompt(t.text());
        Set<Long> skip = new HashSet<>();
        if (t.skipTokens() == null) {
            skip.add((long) llama.model().config().bosTokenId());
        } else {
            for (int i = 0; i < t.skipTokens().size(); i++) {
                JsonNode s = t.skipTokens().get(i);
                if (s.isIntegralNumber()) {
                    skip.add(checkTokenId(s.asLong(), "input.skip_tokens[" + i + "]"));
                } else {
                    long[] ids = tok.encodePlain(s.asText()).ids();
                    if (ids.length != 1) {
                        throw RequestException.invalid("input.skip_tokens[" + i + "]", "'" + s.asText()
                                + "' is not a single token of this tokenizer");
                    }
                    skip.add(ids[0]);
                }
            }
        }
        String[] texts = Arrays.stream(prompt.ids()).mapToObj(tok::tokenText).toArray(String[]::new);
        long baseline = checkTokenId(t.baselineTokenIdOrDefault(), "input.baseline_token_id");
        return new TokenFeatures(prompt.ids(), texts, skip, baseline);
    }

    /** Refuses an id outside the vocabulary before it reaches the native embedding lookup. */
    private long checkTokenId(long id, String field) {
        int vocabulary = llama.model().config().vocabSize();
        if (id < 0 || id >= vocabulary) {
            throw RequestException.invalid(field, "token id " + id + " is outside the vocabulary [0, " + vocabulary
                    + ") of this model");
        }
        return id;
    }

    /**
     * The conversation rendered with the model's chat template and tokenized as a whole (no special
     * tokens added: the template writes them); features are the tokens inside the messages' contents,
     * one by one or grouped per message. Scaffolding tokens are never features.
     */
    private TokenFeatures chatFeatures(InputSpec.Chat c) {
        LlamaTokenizer tok = tokenizer("input.messages");
        ChatTemplate template = tok.chatTemplate().orElseThrow(() -> RequestException.invalid("input.type", "the model"
                + " directory " + llama.directory() + " has no chat template (tokenizer_config.json chat_template)"));
        List<ChatTemplate.Message> messages = c.messages().stream()
                .map(m -> new ChatTemplate.Message(m.role(), m.content())).toList();
        ChatTemplate.Rendered rendered;
        try {
            rendered = template.render(messages, c.addGenerationPromptOrDefault(), c.dateString());
        } catch (IllegalArgumentException e) {
            throw RequestException.invalid("input.messages", e.getMessage());
        }
        checkLength(rendered.text(), tok, "input.messages", "the conversation", limits.maxPromptTokens(),
                "--max-prompt-tokens");
        LlamaTokenizer.Tokens tokens = tok.encodePlain(rendered.text());
        List<int[]> groups = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            int[] span = rendered.contentSpans()[i];
            List<Integer> inside = new ArrayList<>();
            for (int p = 0; span != null && p < tokens.size(); p++) {
                int[] s = tokens.spans()[p];
                if (s[0] >= span[0] && s[1] <= span[1] && s[1] > s[0]) {
                    inside.add(p);
                }
            }
            if (c.featuresOrDefault() == InputSpec.ChatFeatures.MESSAGES) {
                if (!inside.isEmpty()) {
                    groups.add(inside.stream().mapToInt(Integer::intValue).toArray());
                    texts.add(messages.get(i).role() + ": " + rendered.text().substring(span[0], span[1]));
                }
            } else {
                for (int p : inside) {
                    groups.add(new int[] {p});
                    texts.add(tok.tokenText(tokens.ids()[p]));
                }
            }
        }
        long baseline = checkTokenId(c.baselineTokenIdOrDefault(), "input.baseline_token_id");
        return new TokenFeatures(tokens.ids(), groups.toArray(int[][]::new), texts, baseline);
    }

    private TextFeatures templateFeatures(InputSpec.Template t, Function<String, long[]> tokenize) {
        List<String> slots = Templates.slots(t.template());
        List<String> names = t.valueNames();
        List<String> values = t.valueList();
        boolean named = t.values().isObject();
        if (named) {
            for (String slot : slots) {
                if (slot.isEmpty()) {
                    throw RequestException.invalid("input.template", "mixes {} with named slots; with values as an"
                            + " object every slot needs a name");
                }
                if (!names.contains(slot)) {
                    throw RequestException.invalid("input.values", "template slot {" + slot + "} has no value");
                }
            }
        } else if (slots.stream().anyMatch(s -> !s.isEmpty()) || slots.size() != values.size()) {
            throw RequestException.invalid("input.values", "the template has " + slots.size() + " slots "
                    + slots + " but " + values.size() + " values are given as a list; use {} slots for a list");
        }
        return new TextFeatures(values, baselines(t.baselines(), names, values.size()), mask(t.mask(), names,
                values.size()), Templates.renderer(t.template(), names), tokenize);
    }

    private static Baselines baselines(JsonNode node, List<String> names, int count) {
        if (node == null) {
            return new Baselines.Fixed(java.util.Collections.nCopies(count, ""));
        }
        if (node.has("product")) {
            List<Baselines.Product.Group> groups = new ArrayList<>();
            Set<Integer> covered = new TreeSet<>();
            for (Map.Entry<String, JsonNode> e : iterable(node.get("product"))) {
                String field = "input.baselines.product." + e.getKey();
                String[] keys = e.getKey().split(",");
                int[] indices = new int[keys.length];
                for (int k = 0; k < keys.length; k++) {
                    indices[k] = indexOf(keys[k].trim(), names, count, field);
                    covered.add(indices[k]);
                }
                List<List<String>> alternatives = new ArrayList<>();
                for (JsonNode alt : e.getValue()) {
                    List<String> tuple = new ArrayList<>();
                    if (alt.isArray()) {
                        alt.forEach(v -> tuple.add(v.asText()));
                    } else {
                        tuple.add(alt.asText());
                    }
                    if (tuple.size() != keys.length) {
                        throw RequestException.invalid(field, "alternative " + alt + " has " + tuple.size()
                                + " values for " + keys.length + " keys");
                    }
                    alternatives.add(tuple);
                }
                groups.add(new Baselines.Product.Group(indices, alternatives));
            }
            if (covered.size() != count) {
                throw RequestException.invalid("input.baselines.product", "every value needs baseline alternatives;"
                        + " covered are " + covered.stream().map(i -> names.isEmpty() ? "#" + i : names.get(i)).toList());
            }
            return new Baselines.Product(count, groups);
        }
        return new Baselines.Fixed(perValue(node, names, count, "input.baselines", JsonNode::asText));
    }

    private static int[] mask(JsonNode node, List<String> names, int count) {
        if (node == null) {
            return java.util.stream.IntStream.range(0, count).toArray();
        }
        List<Integer> ids = perValue(node, names, count, "input.mask", JsonNode::asInt);
        // features are numbered by sorted distinct mask id, as Captum's set() of small ints orders them
        List<Integer> distinct = new ArrayList<>(new TreeSet<>(ids));
        return ids.stream().mapToInt(distinct::indexOf).toArray();
    }

    /** One entry per value, from a list (in order) or an object (by value name). */
    private static <T> List<T> perValue(JsonNode node, List<String> names, int count, String field,
            Function<JsonNode, T> read) {
        List<T> out = new ArrayList<>();
        if (node.isArray()) {
            if (node.size() != count) {
                throw RequestException.invalid(field, "has " + node.size() + " entries for " + count + " values");
            }
            node.forEach(n -> out.add(read.apply(n)));
            return out;
        }
        if (names.isEmpty()) {
            throw RequestException.invalid(field, "must be a list when the values are a list");
        }
        for (Map.Entry<String, JsonNode> e : iterable(node)) {
            if (!names.contains(e.getKey())) {
                throw RequestException.invalid(field + "." + e.getKey(), "names '" + e.getKey()
                        + "', which is not a value; values are " + names);
            }
        }
        for (String name : names) {
            if (!node.has(name)) {
                throw RequestException.invalid(field, "has no entry for value '" + name + "'");
            }
            out.add(read.apply(node.get(name)));
        }
        return out;
    }

    private static int indexOf(String key, List<String> names, int count, String field) {
        if (!names.isEmpty()) {
            int i = names.indexOf(key);
            if (i < 0) {
                throw RequestException.invalid(field, "'" + key + "' is not a value; values are " + names);
            }
            return i;
        }
        try {
            int i = Integer.parseInt(key);
            if (i >= 0 && i < count) {
                return i;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw RequestException.invalid(field, "with values as a list, product keys are value positions 0.." + (count - 1));
    }

    private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode node) {
        return node::fields;
    }

    private long[] target(AttributionRequest r) {
        if (r.targetIds() != null) {
            long[] ids = new long[r.targetIds().size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = checkTokenId(r.targetIds().get(i), "target_ids[" + i + "]");
            }
            return ids;
        }
        if (r.target() != null) {
            LlamaTokenizer tok = tokenizer("target");
            checkLength(r.target(), tok, "target", "the target", limits.maxTargetTokens(), "--max-target-tokens");
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
                        : tokenizer("attr_target.text").encodePlain(a.text()).ids();
                if (ids.length == 0) {
                    throw RequestException.invalid("attr_target.text", "the contrast text has no tokens");
                }
                for (long id : ids) {
                    checkTokenId(id, "attr_target.ids");
                }
                yield new Quantity.Contrast(ids);
            }
        };
    }

    /** Refuses a text too long for {@code limit} tokens before tokenizing it (40,000 tokens take a second). */
    private static void checkLength(String text, LlamaTokenizer tok, String field, String what, int limit, String flag) {
        if (text.length() > (long) limit * tok.maxTokenChars()) {
            throw Limits.exceeded(field, what + " has " + text.length() + " characters, more than " + limit + " tokens"
                    + " of at most " + tok.maxTokenChars() + " characters each can hold; this worker's limit is " + limit
                    + " tokens (" + flag + ")");
        }
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
