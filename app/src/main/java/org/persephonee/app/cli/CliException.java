package org.persephonee.app.cli;

/** A user error on the command line: printed as one line, exit code 2, no stack trace. */
public class CliException extends Exception {
    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
