package org.llmattrib.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.llmattrib.bench.SelfTest;
import org.llmattrib.llama.Libtorch;
import org.llmattrib.llama.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Checks an install: which libtorch, which devices, and every method's numbers against the float64 path. */
@Command(name = "selftest", description = "Check this install: print the libtorch loaded and the devices seen, then"
        + " run every attribution method on a tiny generated checkpoint on --device in --dtype and compare with the"
        + " float64 path on the CPU; exits 1 on any miss.")
final class SelftestCommand implements Callable<Integer> {
    @Option(names = "--device", defaultValue = "${env:DEVICE:-cpu}", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", defaultValue = "${env:DTYPE:-float32}", description = "float32, bfloat16 or float16"
            + " (default: ${DEFAULT-VALUE})")
    Precision dtype;

    @Option(names = "--bound", description = "the largest max |attr - attr_fp64| / max |attr_fp64| allowed (default:"
            + " float32 1e-5, bfloat16 0.2, float16 0.05)")
    Double bound;

    @Option(names = "--checks", split = ",", description = "run only these checks, by the names the table shows"
            + " (default: all)")
    List<String> checks = List.of();

    @Override
    public Integer call() {
        System.out.println(Libtorch.loaded().describe());
        System.out.println();
        List<SelfTest.Result> results = SelfTest.run(device, dtype, bound == null ? Double.NaN : bound, checks,
                System.out);
        long misses = results.stream().filter(r -> !r.passed()).count();
        System.out.printf("%nselftest %s %s: %d check%s, %s%n", device, dtype, results.size(),
                results.size() == 1 ? "" : "s",
                misses == 0 ? "all within the bound" : misses + " MISSED");
        return misses == 0 ? 0 : 1;
    }
}
