package org.llmattrib.gateway;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The gateway's one long-lived producer (idempotent, acks=all) for requests and cancels. {@code send}
 * may block while it fetches a topic's metadata, so sends are made on a thread of their own, and
 * the acknowledgement comes back on the caller's event loop.
 */
final class RequestSender implements AutoCloseable {
    private final KafkaProducer<String, byte[]> producer;
    private final ExecutorService sending = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "gateway-producer");
        t.setDaemon(true);
        return t;
    });

    RequestSender(Properties kafka) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
    }

    /** Sends {@code value} keyed by {@code key}; the future completes on {@code context} once acknowledged. */
    Future<RecordMetadata> send(Context context, String topic, String key, byte[] value) {
        Promise<RecordMetadata> acked = Promise.promise();
        sending.execute(() -> {
            try {
                producer.send(new ProducerRecord<>(topic, key, value), (metadata, error) -> context.runOnContext(v -> {
                    if (error != null) {
                        acked.fail(error);
                    } else {
                        acked.complete(metadata);
                    }
                }));
            } catch (RuntimeException e) {
                context.runOnContext(v -> acked.fail(e));
            }
        });
        return acked.future();
    }

    @Override
    public void close() {
        sending.shutdown();
        try {
            sending.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close();
    }
}
