package org.llmattrib.gateway;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The gateway as its own light process: {@code java -jar gateway-*-standalone.jar --bootstrap HOST:PORT}. */
@Command(name = "attrib-gateway", mixinStandardHelpOptions = true,
        description = "HTTP gateway and dashboard for the attribution service.")
public final class GatewayMain implements Callable<Integer> {
    @Mixin
    GatewayOptions options;

    @Override
    public Integer call() throws InterruptedException {
        return options.serve(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line; an error (an unreachable broker, a taken port) is one line, no stack trace. */
    public static CommandLine commandLine() {
        return new CommandLine(new GatewayMain()).setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + e.getMessage());
            return 1;
        });
    }
}
