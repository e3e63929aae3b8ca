package org.llmattrib.cli;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import picocli.CommandLine.Option;

/** How a command reaches Kafka: bootstrap servers, client properties (TLS, SASL, ...), a bounded wait. */
final class KafkaOptions {
    @Option(names = "--bootstrap", required = true, defaultValue = "${env:KAFKA_BOOTSTRAP}",
            description = "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP)")
    String bootstrap;

    @Option(names = "--kafka-config", description = "Kafka client properties file (security.protocol, ssl.*, sasl.*,"
            + " any client setting), applied to every Kafka client of the command")
    Path config;

    @Option(names = "--connect-timeout", defaultValue = "PT15S",
            description = "how long Kafka may take to answer before the command gives up (default: ${DEFAULT-VALUE})")
    Duration connectTimeout;

    /** The properties of {@code --kafka-config}, empty without it. */
    Properties properties() throws IOException {
        Properties p = new Properties();
        if (config != null) {
            p.load(new StringReader(new String(UserFiles.read(config, "Kafka config file"), StandardCharsets.UTF_8)));
        }
        return p;
    }
}
