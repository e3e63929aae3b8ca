package org.llmattrib.attribution.plan;

import org.llmattrib.attribution.input.PromptFeatures;
import org.llmattrib.protocol.InputSpec;

/**
 * Turns one kind of request input into the prompt's interpretable features, checked against the
 * loaded model, or says which field is wrong ({@code RequestException}). One planner per input type,
 * as Captum has one class per interpretable input: {@link TokensPlanner} (TextTokenInput),
 * {@link TemplatePlanner} (TextTemplateInput), {@link SegmentsPlanner} and {@link ChatPlanner}.
 */
public interface InputPlanner<I extends InputSpec> {
    PromptFeatures features(I input);
}
