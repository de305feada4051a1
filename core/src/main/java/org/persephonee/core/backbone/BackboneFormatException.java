package org.persephonee.core.backbone;

import java.nio.file.Path;

/** A backbone folder that cannot be read: the message names the file and the problem. */
public class BackboneFormatException extends Exception {
    private final transient Path file;

    public BackboneFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public BackboneFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The offending file, never null. */
    public Path file() { return file; }
}
