package org.llmattrib.protocol;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every partition of one topic outside any consumer group, so that every reader (each worker,
 * each gateway replica, a restarted one) sees every record, on a thread of its own. It starts at
 * the first record written at or after a point in time ({@link Instant#EPOCH}: the earliest
 * retained) and hands each poll's records to a callback, in order. It waits for the topic to exist.
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicFollower.class);
    private static final Duration ANSWER = Duration.ofSeconds(10);

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final Object bootstrap;
    private final Consumer<List<ConsumerRecord<String, byte[]>>> onRecords;
    private final CompletableFuture<Void> answered = new CompletableFuture<>();
    private final CompletableFuture<Void> caughtUp = new CompletableFuture<>();
    private volatile boolean running = true;
    private volatile Throwable died;
    private Thread thread;

    /**
     * @param kafka the client settings ({@code bootstrap.servers} and any security settings)
     * @param onRecords called on the follower's thread with the records of each poll; it must handle
     *     its own bad records (an exception it throws skips the rest of that poll)
     */
    public TopicFollower(Properties kafka, String topic, Consumer<List<ConsumerRecord<String, byte[]>>> onRecords) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(p);
        this.topic = topic;
        this.bootstrap = p.get(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
        this.onRecords = onRecords;
    }

    /**
     * Starts reading from the first record written at or after {@code from}. The future completes
     * once the records present at start-up have been handed over, or exceptionally if the follower
     * dies first.
     */
    public CompletableFuture<Void> start(Instant from) {
        thread = new Thread(() -> run(from), "follow-" + topic);
        thread.setDaemon(true);
        thread.start();
        return caughtUp;
    }

    /**
     * Completes once a broker has answered about the topic (with its partitions, or that it does not
     * exist yet); exceptionally if the follower dies or is closed first. Until then no broker has
     * been reached: a caller bounds its wait on this to fail fast on a wrong or dead bootstrap address.
     */
    public CompletableFuture<Void> answered() {
        return answered;
    }

    /**
     * {@link #start}, then waits until the records present at start-up have been handed over.
     *
     * @throws IllegalStateException naming the topic, if that takes longer than {@code timeout} (the
     *     topic does not exist, no broker answers) or the follower dies first
     */
    public void startAndWait(Instant from, Duration timeout) {
        try {
            start(from).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("could not read topic " + topic + " within " + timeout.toSeconds()
                    + " s: does it exist, does the broker answer?");
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot follow " + topic + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private void run(Instant from) {
        try {
            List<TopicPartition> partitions = partitions();
            consumer.assign(partitions);
            // the end offsets before the search: a partition with no record at or after `from` is
            // read from that end, exactly (seekToEnd would resolve later, skipping what came meanwhile)
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, ANSWER);
            Map<TopicPartition, Long> times = new HashMap<>();
            partitions.forEach(tp -> times.put(tp, from.toEpochMilli()));
            Map<TopicPartition, OffsetAndTimestamp> offsets = consumer.offsetsForTimes(times, ANSWER);
            offsets.forEach((tp, o) -> consumer.seek(tp, o == null ? end.get(tp) : o.offset()));
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    hand(records);
                }
                if (!caughtUp.isDone() && partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp))) {
                    LOG.info("read {} up to its end at start ({} partitions)", topic, partitions.size());
                    caughtUp.complete(null);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (Throwable e) {
            died = e;
            LOG.error("stopped following {}", topic, e);
        } finally {
            Throwable end = died != null ? died : new IllegalStateException("closed");
            answered.completeExceptionally(end);
            caughtUp.completeExceptionally(end);
            consumer.close();
        }
    }

    private void hand(ConsumerRecords<String, byte[]> records) {
        List<ConsumerRecord<String, byte[]>> list = new ArrayList<>(records.count());
        records.forEach(list::add);
        try {
            onRecords.accept(list);
        } catch (RuntimeException e) {
            // one bad record must not stop the follower
            ConsumerRecord<String, byte[]> first = list.get(0);
            LOG.warn("skipping {} records from {}/{}@{}: {}", list.size(), first.topic(), first.partition(),
                    first.offset(), e.toString());
        }
    }

    /** The topic's partitions, once it exists (a reader may start before the topics are created). */
    private List<TopicPartition> partitions() throws InterruptedException {
        while (running) {
            try {
                List<TopicPartition> found = consumer.partitionsFor(topic, ANSWER).stream()
                        .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
                answered.complete(null);
                if (!found.isEmpty()) {
                    return found;
                }
                LOG.warn("waiting for topic {} to exist", topic);
            } catch (TimeoutException e) {
                LOG.warn("no answer from Kafka at {} within {} s: retrying", bootstrap, ANSWER.toSeconds());
            }
            Thread.sleep(1000);
        }
        throw new WakeupException(); // closed while waiting
    }

    /** False once the reading thread has died of an error (not while waiting, not when closed). */
    public boolean alive() {
        return died == null;
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            consumer.close();
        }
    }
}
