package org.llmattrib.cli;

import java.util.concurrent.Callable;
import org.llmattrib.gateway.GatewayOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code attrib gateway}: the HTTP gateway and dashboard (the gateway module's jar runs it alone, too). */
@Command(name = "gateway", description = "HTTP API, Server-Sent Events and the dashboard over the Kafka topics.")
final class GatewayCommand implements Callable<Integer> {
    @Mixin
    GatewayOptions options;

    @Override
    public Integer call() throws Exception {
        return Ports.listen("the dashboard and API", options.config().host(), options.config().port(), "--port",
                () -> options.serve(System.out));
    }
}
