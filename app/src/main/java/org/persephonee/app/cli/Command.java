package org.persephonee.app.cli;

import java.io.PrintStream;
import java.util.Set;

/** One CLI subcommand. */
public interface Command {
    String name();

    /** One line for the command list. */
    String summary();

    /** Usage text, one option per line. */
    String usage();

    Set<String> valuedOptions();

    default Set<String> flagOptions() { return Set.of("json", "help"); }

    /**
     * Runs the command.
     *
     * @return process exit code
     */
    int run(Args args, PrintStream out, PrintStream err) throws Exception;
}
