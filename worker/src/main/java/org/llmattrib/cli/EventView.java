package org.llmattrib.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.llmattrib.protocol.AttributionEvent;

/**
 * How a person watches a job: a progress bar over target tokens while token events stream in,
 * then a heatmap of token x feature attributions; failures are printed with their field.
 */
final class EventView implements Consumer<AttributionEvent> {
    private final PrintStream out;
    private List<String> features = List.of();
    private final List<String> tokens = new ArrayList<>();
    private final List<double[]> rows = new ArrayList<>();
    private ProgressBar bar;
    private final int expectedTokens;

    /** @param expectedTokens the target length when known in advance (for the bar), else 0 */
    EventView(PrintStream out, int expectedTokens) {
        this.out = out;
        this.expectedTokens = expectedTokens;
    }

    @Override
    public void accept(AttributionEvent event) {
        if (event instanceof AttributionEvent.Accepted a) {
            features = a.features();
            int total = a.targetTokens() != null ? a.targetTokens().size() : expectedTokens;
            out.printf("job %s accepted by %s (%s): %s%n", a.jobId(), a.worker(), a.method(), count(features.size(), "feature"));
            bar = new ProgressBarBuilder().setTaskName("tokens").setInitialMax(total > 0 ? total : -1)
                    .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
                    .continuousUpdate().build();
        } else if (event instanceof AttributionEvent.Token t) {
            tokens.add(t.token());
            rows.add(t.attr().stream().mapToDouble(Double::doubleValue).toArray());
            if (bar != null) {
                bar.step();
                bar.setExtraMessage(String.format("'%s' log p %.3f", t.token().strip(), t.logProb()));
            }
            if (t.ig() != null) {
                t.ig().forEach((layer, c) -> {
                    if (Math.abs(c.delta()) > 0.01 * Math.abs(c.fInput() - c.fBaseline()) + 1e-6) {
                        out.printf("%n  note: %s token %d completeness error %.4f of %.4f%n", layer, t.index(), c.delta(),
                                c.fInput() - c.fBaseline());
                    }
                });
            }
        } else if (event instanceof AttributionEvent.Completed c) {
            closeBar();
            Heatmap.print(out, features, tokens, rows.toArray(double[][]::new),
                    c.seqAttr().stream().mapToDouble(Double::doubleValue).toArray(), System.console() != null);
            out.printf("done in %.0f ms (first token after %.0f ms), work %s%n", c.timings().get("total_ms"),
                    c.timings().get("first_token_ms"), c.work());
        } else if (event instanceof AttributionEvent.Failed f) {
            closeBar();
            out.printf("job %s failed: %s%s: %s%n", f.jobId(), f.code(), f.field() == null ? "" : " (field " + f.field() + ")",
                    f.message());
        }
    }

    /** {@code 1 feature}, {@code 2 features}. */
    static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    private void closeBar() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
