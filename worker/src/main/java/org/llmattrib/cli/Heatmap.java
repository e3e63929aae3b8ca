package org.llmattrib.cli;

import java.io.PrintStream;
import java.util.List;

/**
 * A terminal heatmap of token attributions: one row per input feature, one column per output
 * token, then the sequence attribution; red for negative and green for positive, numbers printed.
 * That is Captum's plot_token_attr (and the dashboard's default) transposed, since a prompt has
 * more features than a terminal has room for columns; the first line says so.
 */
public final class Heatmap {
    static final String ORIENTATION = "rows: input features · columns: target tokens, then seq (the sequence"
            + " attribution); Captum's plot_token_attr and the dashboard show them transposed";

    private Heatmap() {}

    public static void print(PrintStream out, List<String> features, List<String> tokens, double[][] tokenAttr,
            double[] seqAttr, boolean color) {
        double max = 1e-12;
        for (double[] row : tokenAttr) {
            for (double v : row) {
                max = Math.max(max, Math.abs(v));
            }
        }
        int labelWidth = Math.min(24, features.stream().mapToInt(f -> show(f).length()).max().orElse(4) + 1);
        int cell = 9;
        out.println(ORIENTATION);
        StringBuilder header = new StringBuilder(pad("", labelWidth));
        for (String t : tokens) {
            header.append(pad(clip(show(t), cell - 1), cell));
        }
        header.append(pad("seq", cell));
        out.println(header);
        for (int f = 0; f < features.size(); f++) {
            StringBuilder line = new StringBuilder(pad(clip(show(features.get(f)), labelWidth - 1), labelWidth));
            for (int t = 0; t < tokens.size(); t++) {
                double v = tokenAttr[t][f];
                String text = pad(String.format("%+.3f", v), cell);
                line.append(color ? colored(text, v / max) : text);
            }
            line.append(pad(String.format("%+.3f", seqAttr[f]), cell));
            out.println(line);
        }
    }

    /** Background colour on a 24-step red/green ramp by the value's share of the largest magnitude. */
    private static String colored(String text, double share) {
        int level = (int) Math.round(Math.min(1, Math.abs(share)) * 5);
        int code = share >= 0 ? 16 + 36 * 0 + 6 * level : 16 + 36 * level;
        return "\u001b[48;5;" + code + "m\u001b[97m" + text + "\u001b[0m";
    }

    private static String show(String token) {
        return token.replace("\n", "\\n").replace("Ġ", " ").replace("Ċ", "\\n");
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    private static String pad(String s, int n) {
        return s.length() >= n ? s : s + " ".repeat(n - s.length());
    }
}
