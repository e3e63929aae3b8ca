package org.llmattrib.service;

/**
 * How a worker takes requests from {@code attribution.requests}.
 *
 * <ul>
 *   <li>{@link #SHARE}: a share group (KIP-932, Kafka 4.2+): the members of a partition take its
 *       records one at a time, so an idle worker takes the next job even while another runs a long
 *       one; each record is acknowledged on its own and has a delivery count. The broker gives a
 *       partition to several members only when there are more members than partitions, hence
 *       the request topic's single partition ({@link ServiceTopics}).
 *   <li>{@link #GROUP}: a consumer group, for brokers without share groups: a worker owns whole
 *       partitions and runs their records in offset order.
 * </ul>
 */
public enum QueueMode {
    SHARE,
    GROUP
}
