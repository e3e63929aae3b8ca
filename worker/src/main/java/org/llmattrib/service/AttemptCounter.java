package org.llmattrib.service;

import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Counts the runs of a request record, so that a request whose runs kill or stall their workers is
 * given up after a limit instead of being redelivered forever. Called on the job thread only.
 */
interface AttemptCounter {
    /** Share groups count deliveries on the broker: the record carries its delivery count. */
    AttemptCounter DELIVERY_COUNT = new AttemptCounter() {
        @Override
        public int started(ConsumerRecord<String, byte[]> record) {
            return record.deliveryCount().map(Short::intValue).orElse(1);
        }

        @Override
        public void finished(ConsumerRecord<String, byte[]> record) {
            // the broker forgets the record once it is acknowledged
        }
    };

    /** A worker starts to run the record: its attempt number, 1 for the first. */
    int started(ConsumerRecord<String, byte[]> record);

    /** The record is done for good (its final event acknowledged): its count may be dropped. */
    void finished(ConsumerRecord<String, byte[]> record);
}
