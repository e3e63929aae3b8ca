package org.llmattrib.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.service.ServiceTopics;
import org.llmattrib.service.StandaloneKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A standalone KRaft broker for development and demos, with the service topics created. */
@Command(name = "broker", description = "Run a single-node Kafka (KRaft) with the service topics until stopped.")
final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "the only interface it listens on, also the advertised host (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "9092", description = "listener port (default: ${DEFAULT-VALUE};"
            + " 0: any free port, printed when ready)")
    int port;

    @Option(names = "--data-dir", description = "where its data is kept across restarts (default: a temporary"
            + " directory, deleted on stop)")
    Path dataDir;

    @Option(names = "--request-partitions", defaultValue = "" + ServiceTopics.REQUEST_PARTITIONS,
            description = "partitions of attribution.requests (default: ${DEFAULT-VALUE}: every worker of a share group"
            + " serves it; --queue group workers need one partition each)")
    int requestPartitions;

    @Option(names = "--partitions", defaultValue = "" + ServiceTopics.RESULT_PARTITIONS,
            description = "partitions of attribution.results (default: ${DEFAULT-VALUE})")
    int partitions;

    @Override
    public Integer call() throws Exception {
        StandaloneKafka kafka = Ports.listen("Kafka", host, port, "--port",
                () -> StandaloneKafka.start(host, port, dataDir, requestPartitions, partitions));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kafka.close();
            stopped.countDown();
        }, "shutdown"));
        System.out.println("broker ready on " + kafka.bootstrapServers() + " (topics created"
                + (dataDir == null ? "" : ", data in " + dataDir) + "); Ctrl-C to stop");
        stopped.await();
        return 0;
    }
}
