package org.llmattrib.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Files named on the command line: a problem reading one says which file, what it is for, and what is wrong. */
final class UserFiles {
    private UserFiles() {}

    /**
     * The file's bytes.
     *
     * @param what what the file is, as the user knows it ("request file")
     * @throws IllegalArgumentException like {@code request file nope.json: no such file}
     */
    static byte[] read(Path path, String what) {
        try {
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + " " + path + ": no such file");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(what + " " + path + ": permission denied");
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + path + ": " + (Files.isDirectory(path)
                    ? "a directory, not a file" : "cannot be read (" + e.getMessage() + ")"));
        }
    }
}
