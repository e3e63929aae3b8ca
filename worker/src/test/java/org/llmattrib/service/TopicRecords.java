package org.llmattrib.service;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;
import org.llmattrib.protocol.TopicFollower;

/**
 * Every record of one topic from its beginning, with headers, collected by a {@link TopicFollower};
 * the records present when it is made are there when the constructor returns.
 */
final class TopicRecords implements AutoCloseable {
    private final List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    private final TopicFollower follower;

    TopicRecords(String bootstrap, String topic) {
        Properties kafka = new Properties();
        kafka.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        follower = new TopicFollower(kafka, topic, batch -> {
            synchronized (records) {
                records.addAll(batch);
            }
        });
        follower.startAndWait(Instant.EPOCH, Duration.ofSeconds(30));
    }

    List<ConsumerRecord<String, byte[]>> all() {
        synchronized (records) {
            return List.copyOf(records);
        }
    }

    /** The results-topic records of one job (by the event's job id, whatever the key). */
    List<ConsumerRecord<String, byte[]>> ofJob(String jobId) {
        return all().stream().filter(r -> Protocol.decodeEvent(r.value()).jobId().equals(jobId)).toList();
    }

    List<AttributionEvent> events(String jobId) {
        return ofJob(jobId).stream().map(r -> Protocol.decodeEvent(r.value())).toList();
    }

    boolean finished(String jobId) {
        return events(jobId).stream()
                .anyMatch(e -> e instanceof AttributionEvent.Completed || e instanceof AttributionEvent.Failed);
    }

    @Override
    public void close() {
        follower.close();
    }
}
