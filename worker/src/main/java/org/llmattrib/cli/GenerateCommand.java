package org.llmattrib.cli;

import java.util.Arrays;
import java.util.concurrent.Callable;
import org.llmattrib.llama.Llama;
import org.llmattrib.llama.LlamaTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Greedy generation, or scoring of a given continuation, from the command line. */
@Command(name = "generate", description = "Generate greedily from a prompt, or score --target under teacher forcing.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Parameters(index = "0", description = "prompt text")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "25")
    int maxNewTokens;

    @Option(names = "--target", description = "score this continuation instead of generating")
    String target;

    @Override
    public Integer call() {
        try (Llama llama = modelOptions.load()) {
            LlamaTokenizer tok = llama.requireTokenizer();
            long[] ids = tok.encodePrompt(prompt).ids();
            if (target == null) {
                long[] out = llama.generate(ids, maxNewTokens, true);
                System.out.println(prompt + tok.decode(out));
            } else {
                long[] targetIds = tok.encodePlain(target).ids();
                double[] logProbs = llama.score(ids, targetIds);
                for (int t = 0; t < targetIds.length; t++) {
                    System.out.printf("%-16s %10.4f%n", "'" + tok.tokenText(targetIds[t]) + "'", logProbs[t]);
                }
                System.out.printf("%-16s %10.4f%n", "total", Arrays.stream(logProbs).sum());
            }
        }
        return 0;
    }
}
