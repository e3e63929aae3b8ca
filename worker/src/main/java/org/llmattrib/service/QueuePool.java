package org.llmattrib.service;

import java.util.List;

/**
 * A worker's {@code --concurrency N} in share mode: N share consumers of the same group, each running
 * one record at a time on its own job thread, acquiring, renewing and settling its record on its
 * own poll thread exactly as one {@link ShareJobConsumer} does. The broker hands records to whichever
 * consumer asks, so up to N jobs run at once and each is settled alone.
 */
final class QueuePool implements JobQueue {
    private final List<? extends JobQueue> queues;

    QueuePool(List<? extends JobQueue> queues) {
        this.queues = queues;
    }

    @Override
    public void start() {
        queues.forEach(JobQueue::start);
    }

    @Override
    public boolean alive() {
        return queues.stream().allMatch(JobQueue::alive);
    }

    @Override
    public boolean ready() {
        return queues.stream().allMatch(JobQueue::ready);
    }

    /** Closes them all at once, so that every running job has the whole drain timeout. */
    @Override
    public void close() {
        List<Thread> closing = queues.stream().map(q -> new Thread(q::close, "queue-close")).toList();
        closing.forEach(Thread::start);
        for (Thread t : closing) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
