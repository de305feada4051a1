package org.persephonee.app.cli;

import picocli.CommandLine.Option;

import java.io.PrintStream;

/**
 * One CLI subcommand. picocli reads its {@code @Command} annotation (name, one-line description, synopsis) and its
 * {@code @Option} fields (typed values with their defaults); {@link Cli} parses, then calls {@link #run}.
 * A command is used for one parse and one run.
 */
public abstract class CliCommand {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show these options and exit")
    boolean help;

    /**
     * Runs the command with its options parsed.
     *
     * @return process exit code
     * @throws CliException for a value the options' types cannot rule out (exit code 2, with the usage line)
     */
    protected abstract int run(PrintStream out, PrintStream err) throws Exception;
}
