package org.llmattrib.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where the log goes for a command that draws progress bars ({@code demo}, {@code explain}): not into
 * the bars unless asked. SLF4J's simple logger reads its settings once, when the first logger is
 * made, so {@link #apply} comes first in a command, before anything logs.
 */
final class LogOptions {
    /** Where the log goes when neither option is given. */
    enum Default {
        /** INFO and above to {@link #DEMO_LOG}. */
        FILE,
        /** Warnings and errors only, on stderr. */
        WARNINGS
    }

    static final Path DEMO_LOG = Path.of(".cache", "demo.log");

    @Option(names = "--verbose", description = "log INFO and above on stderr (between the progress bars)")
    boolean verbose;

    @Option(names = "--log-file", description = "log INFO and above to this file (replaced)")
    Path logFile;

    /**
     * Configures the log; returns the file it goes to, or null when it goes to stderr.
     *
     * @throws IllegalArgumentException when the log file cannot be created
     */
    Path apply(Default fallback) {
        Path file = logFile != null ? logFile : verbose || fallback == Default.WARNINGS ? null : DEMO_LOG;
        if (file != null) {
            try {
                Files.createDirectories(file.toAbsolutePath().getParent());
                Files.write(file, new byte[0]);
            } catch (IOException e) {
                throw new IllegalArgumentException("log file " + file + ": cannot be written (" + e.getMessage() + ")");
            }
            System.setProperty("org.slf4j.simpleLogger.logFile", file.toString());
        } else if (!verbose) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        return file;
    }
}
