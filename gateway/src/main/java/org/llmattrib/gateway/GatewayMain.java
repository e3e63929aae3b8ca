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
        System.exit(new CommandLine(new GatewayMain()).execute(args));
    }
}
