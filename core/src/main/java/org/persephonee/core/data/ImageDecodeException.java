package org.persephonee.core.data;

import java.nio.file.Path;

/** An image file that could not be decoded; the message names the file and the problem. */
public class ImageDecodeException extends Exception {
    private final transient Path file;
    private final String problem;

    public ImageDecodeException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
        this.problem = problem;
    }

    public Path file() { return file; }

    /** The problem without the file name. */
    public String problem() { return problem; }
}
