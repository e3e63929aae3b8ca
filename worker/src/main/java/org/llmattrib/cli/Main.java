package org.llmattrib.cli;

import org.llmattrib.llama.Libtorch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code attrib} command line: one launcher for the worker, the broker, clients and tools. */
@Command(name = "attrib", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "attrib 0.1.0",
        description = "Attribution worker for Llama models: Captum's LLM attribution as a Kafka service.",
        subcommands = {DemoCommand.class, WorkerCommand.class, GatewayCommand.class, BrokerCommand.class, SubmitCommand.class, ExplainCommand.class, GenerateCommand.class, BenchCommand.class, SelftestCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    @Option(names = "--libtorch", scope = CommandLine.ScopeType.LOCAL, paramLabel = "DIR", description = "run on the"
            + " libtorch in DIR (libtorch's libraries, DJL's JNI library built for them and libtorch.properties:"
            + " deploy/build-djl-jni.sh makes one) instead of the CPU build inside the jar; or 'python' (./attrib"
            + " only): the folder made for python3's torch. Default: $" + Libtorch.ENV + ", else the jar's")
    String libtorch;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line; {@code --help} and {@code --version} work on every subcommand. */
    static CommandLine commandLine() {
        Main main = new Main();
        return new CommandLine(main)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionStrategy(parsed -> {
                    Integer help = CommandLine.executeHelpRequest(parsed);
                    if (help != null) {
                        return help;
                    }
                    // a libtorch folder that cannot be used fails before any command starts, in one line
                    if (main.libtorch != null) {
                        System.setProperty(Libtorch.PROPERTY, main.libtorch);
                    }
                    try {
                        Libtorch.select();
                    } catch (Libtorch.FolderException e) {
                        parsed.commandSpec().commandLine().getErr().println("error: " + e.getMessage());
                        return 1;
                    }
                    return new CommandLine.RunLast().execute(parsed);
                })
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    // a bad model directory, request file, argument or Kafka address: one clear line, no stack trace
                    cmd.getErr().println("error: " + e.getMessage());
                    return 1;
                });
    }
}
