package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The terminal heatmap says which way round it is (the dashboard's default is the other way). */
class HeatmapTest {
    @Test
    void rowsAreFeaturesColumnsAreTargetTokensAndTheFirstLineSaysSo() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Heatmap.print(out, List.of("Dave", " Palm", " Coast"), List.of(" golf", " tennis"),
                new double[][] {{0.5, -0.25, 0.125}, {1, 2, -3}}, new double[] {1.5, 1.75, -2.875}, false);
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines.get(0)).startsWith("rows: input features · columns: target tokens")
                .contains("plot_token_attr and the dashboard show them transposed");
        assertThat(lines.get(1).split(" +")).containsExactly("", "golf", "tennis", "seq");
        assertThat(lines.subList(2, lines.size())).hasSize(3);
        assertThat(lines.get(3).split(" +")).containsExactly("", "Palm", "-0.250", "+2.000", "+1.750");
    }
}
