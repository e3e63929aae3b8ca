package org.llmattrib.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code attrib} command line: one launcher for the worker, the broker, clients and tools. */
@Command(name = "attrib", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "attrib 0.1.0",
        description = "Attribution worker for Llama models: Captum's LLM attribution as a Kafka service.",
        subcommands = {DemoCommand.class, WorkerCommand.class, GatewayCommand.class, BrokerCommand.class, SubmitCommand.class, ExplainCommand.class, GenerateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line; {@code --help} and {@code --version} work on every subcommand. */
    static CommandLine commandLine() {
        return new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    // a bad model directory, request file, argument or Kafka address: one clear line, no stack trace
                    cmd.getErr().println("error: " + e.getMessage());
                    return 1;
                });
    }
}
