package org.llmattrib.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.llmattrib.attribution.Limits;
import org.llmattrib.llama.TestModels;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import picocli.CommandLine;

/** The limit flags override the device's defaults one by one; `explain` applies them as a worker does. */
class LimitOptionsTest {

    private static Limits parse(String device, String... args) {
        LimitOptions options = new LimitOptions();
        new CommandLine(options).parseArgs(args);
        return options.limits(device);
    }

    @Test
    void defaultsFollowTheDeviceAndEachFlagOverridesOneLimit() {
        assertThat(parse("cpu")).isEqualTo(Limits.cpu());
        assertThat(parse("cuda:1")).isEqualTo(Limits.gpu());
        Limits limits = parse("cuda", "--max-steps", "7", "--max-job-flops", "2.5e12");
        assertThat(limits.maxSteps()).isEqualTo(7);
        assertThat(limits.maxJobFlops()).isEqualTo(2.5e12);
        assertThat(limits.maxTargetTokens()).isEqualTo(Limits.gpu().maxTargetTokens());
    }

    @Test
    void theHelpShowsEachDefault() throws ReflectiveOperationException {
        CommandLine cmd = new CommandLine(new LimitOptions());
        cmd.setUsageHelpWidth(300);
        String help = cmd.getUsageMessage();
        for (RecordComponent c : Limits.class.getRecordComponents()) {
            String cpu = shown(c.getAccessor().invoke(Limits.cpu()));
            String gpu = shown(c.getAccessor().invoke(Limits.gpu()));
            assertThat(help).as(c.getName()).contains(cpu.equals(gpu) ? "(default: " + cpu + ")"
                    : "(default: " + cpu + " on cpu, " + gpu + " on cuda)");
        }
    }

    private static String shown(Object value) {
        return value instanceof Double d ? String.format("%.0e", d).replace("e+", "e") : value.toString();
    }

    @Test
    void explainRefusesARequestAboveAFlagWithItsField() {
        String out = ExplainCommandTest.run("explain", "--model", TestModels.tinyLlama3Dir().toString(), "--request",
                Path.of("../protocol/src/main/resources/examples/seed-lig-embeddings.json").toString(), "--json",
                "--max-steps", "10");
        AttributionEvent.Failed failed = (AttributionEvent.Failed) Protocol.decodeEvent(
                out.strip().getBytes(StandardCharsets.UTF_8));
        assertThat(failed.code()).isEqualTo("limit_exceeded");
        assertThat(failed.field()).isEqualTo("method.n_steps");
        assertThat(failed.message()).isEqualTo("n_steps is 50, above this worker's limit of 10 (--max-steps)");
    }
}
