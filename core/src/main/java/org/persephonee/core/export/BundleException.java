package org.persephonee.core.export;

import java.nio.file.Path;

/** A deployment bundle that cannot be used; the message names the file and the problem. */
public class BundleException extends Exception {
    public BundleException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public BundleException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
