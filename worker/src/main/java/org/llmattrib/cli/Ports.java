package org.llmattrib.cli;

import java.net.BindException;
import java.util.concurrent.Callable;

/** Ports set by an option: when one cannot be bound, the error names the address, the option, and that 0 picks a free port. */
final class Ports {
    private Ports() {}

    /**
     * Runs {@code start}; a {@link BindException} anywhere in its failure becomes an error like
     * {@code cannot listen on 0.0.0.0:9400 for metrics and health: Address already in use; --metrics-port
     * sets the port (0: any free port, printed once bound)}.
     *
     * @param what what listens there, as the user knows it
     */
    static <T> T listen(String what, String host, int port, String option, Callable<T> start) throws Exception {
        try {
            return start.call();
        } catch (Exception e) {
            for (Throwable cause = e; cause != null; cause = cause.getCause()) {
                if (cause instanceof BindException bind) {
                    throw new IllegalArgumentException("cannot listen on " + host + ":" + port + " for " + what + ": "
                            + bind.getMessage() + "; " + option + " sets the port (0: any free port, printed once bound)", e);
                }
            }
            throw e;
        }
    }
}
