package org.llmattrib.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.llmattrib.protocol.AttributionEvent;
import org.llmattrib.protocol.Protocol;

/** What the gateway holds does not depend on the order it reads the partitions in. */
class JobStoreTest {
    record Arrival(String jobId, Instant time, StoredEvent event) {}

    static JobStore store(int maxJobs) {
        return new JobStore(maxJobs, EventLimits.DEFAULT, new GatewayMetrics(new SimpleMeterRegistry(), () -> 0, () -> 0));
    }

    static StoredEvent event(AttributionEvent e) {
        return new StoredEvent(e, Protocol.toJson(e));
    }

    /** Job i: accepted at second i, then a failed event at second i + 5 (events of a job stay in order). */
    static List<List<Arrival>> partitions(int jobs, int partitionCount) {
        List<List<Arrival>> partitions = new ArrayList<>();
        for (int p = 0; p < partitionCount; p++) {
            partitions.add(new ArrayList<>());
        }
        for (int i = 0; i < jobs; i++) {
            String id = "job-" + i;
            List<Arrival> partition = partitions.get(i % partitionCount);
            partition.add(new Arrival(id, Instant.ofEpochSecond(i), event(new AttributionEvent.Accepted(
                    AttributionEvent.SCHEMA, id, 0, "w", "m", "feature_ablation", List.of("a"), List.of("b")))));
        }
        for (List<Arrival> partition : partitions) {
            List<Arrival> ends = partition.stream().map(a -> new Arrival(a.jobId(), a.time().plusSeconds(5),
                    event(new AttributionEvent.Failed(AttributionEvent.SCHEMA, a.jobId(), 1, "cancelled", "x", null))))
                    .toList();
            // interleave as the topic has them: by time within the partition
            List<Arrival> merged = new ArrayList<>(partition);
            merged.addAll(ends);
            merged.sort((x, y) -> x.time().compareTo(y.time()));
            partition.clear();
            partition.addAll(merged);
        }
        return partitions;
    }

    static List<JobSummary> read(List<List<Arrival>> partitions, long seed) {
        JobStore store = store(10);
        Random random = new Random(seed);
        List<Integer> positions = new ArrayList<>(Collections.nCopies(partitions.size(), 0));
        while (true) {
            List<Integer> open = new ArrayList<>();
            for (int p = 0; p < partitions.size(); p++) {
                if (positions.get(p) < partitions.get(p).size()) {
                    open.add(p);
                }
            }
            if (open.isEmpty()) {
                return store.newest(100);
            }
            int p = open.get(random.nextInt(open.size()));
            Arrival a = partitions.get(p).get(positions.get(p));
            positions.set(p, positions.get(p) + 1);
            store.add(a.jobId(), a.time(), a.event());
        }
    }

    @Test
    void everyReadingOrderHoldsTheSameNewestJobsWhole() {
        List<List<Arrival>> partitions = partitions(40, 3);
        List<JobSummary> first = read(partitions, 1);
        assertThat(first).extracting(JobSummary::jobId)
                .containsExactly("job-39", "job-38", "job-37", "job-36", "job-35", "job-34", "job-33", "job-32",
                        "job-31", "job-30");
        assertThat(first).extracting(JobSummary::status).containsOnly(JobStatus.CANCELLED);
        for (long seed = 2; seed < 30; seed++) {
            assertThat(read(partitions, seed)).as("reading order %d", seed).isEqualTo(first);
        }
    }

    @Test
    void aRepeatedSeqIsKeptOnce() {
        JobStore store = store(10);
        AttributionEvent.Accepted accepted = new AttributionEvent.Accepted(AttributionEvent.SCHEMA, "j", 0, "w", "m",
                "feature_ablation", List.of("a"), null);
        store.add("j", Instant.ofEpochSecond(1), event(accepted));
        store.add("j", Instant.ofEpochSecond(2), event(accepted));
        assertThat(store.get("j").eventsAfter(-1)).hasSize(1);
        assertThat(store.get("j").status()).isEqualTo(JobStatus.RUNNING);
    }
}
