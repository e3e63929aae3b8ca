package org.llmattrib.service;

/**
 * How a worker takes requests from {@code attribution.requests}.
 *
 * <ul>
 *   <li>{@link #SHARE}: a share group (KIP-932, Kafka 4.2+): records, not partitions, are handed out,
 *       so any number of workers serve any number of partitions and an idle worker takes the next
 *       job even while another runs a long one; each record is acknowledged on its own and has a
 *       delivery count.
 *   <li>{@link #GROUP}: a consumer group, for brokers without share groups: a worker owns whole
 *       partitions and runs their records in offset order.
 * </ul>
 */
public enum QueueMode {
    SHARE,
    GROUP
}
