package org.llmattrib.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.llmattrib.service.EmbeddedKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A standalone KRaft broker on 127.0.0.1 for development and demos, with the service topics created. */
@Command(name = "broker", description = "Run an embedded Kafka broker (KRaft) on 127.0.0.1 until stopped.")
final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "9092", description = "listener port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--partitions", defaultValue = "6", description = "partitions of the request and result topics")
    int partitions;

    @Override
    public Integer call() throws InterruptedException {
        EmbeddedKafka kafka = EmbeddedKafka.start(port, Map.of());
        kafka.createServiceTopics(partitions);
        System.out.println("broker ready on " + kafka.bootstrapServers() + " (topics created); Ctrl-C to stop");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kafka.close();
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }
}
