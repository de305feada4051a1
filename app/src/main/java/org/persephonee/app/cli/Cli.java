package org.persephonee.app.cli;

import org.persephonee.core.engine.Engines;
import picocli.CommandLine;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/** Headless command line: {@code persephonee SUBCOMMAND [options]}; picocli parses each subcommand's options. */
public final class Cli {
    private final Map<String, Supplier<CliCommand>> commands = new LinkedHashMap<>();

    public Cli() {
        for (Supplier<CliCommand> s : List.<Supplier<CliCommand>>of(InspectCommand::new, EvaluateBackboneCommand::new,
                PretrainCommand::new, MakePersonasCommand::new, ImportCommand::new, SmokeCommand::new,
                DoctorCommand::new, PersonaliseCommand::new, EvaluateCommand::new, BenchCommand::new,
                ExportTorchScriptCommand::new)) {
            commands.put(commandLine(s.get()).getCommandName(), s);
        }
    }

    /** The picocli parser of one command, set up the same way for every command. */
    static CommandLine commandLine(CliCommand c) {
        CommandLine cl = new CommandLine(c);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // unknown options are collected, not thrown at once, so they are named before a missing required one
        cl.setUnmatchedArgumentsAllowed(true);
        cl.setUsageHelpWidth(100);
        cl.setUsageHelpLongOptionsMaxWidth(30);
        cl.getCommandSpec().usageMessage().sortOptions(false).synopsisHeading("usage: ");
        return cl;
    }

    /** Entry point for a subcommand; never throws, returns the exit code. */
    public int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0 || Set.of("help", "--help", "-h").contains(argv[0])) {
            printHelp(out);
            return argv.length == 0 ? 2 : 0;
        }
        Supplier<CliCommand> make = commands.get(argv[0]);
        if (make == null) {
            err.println("error: unknown command '" + argv[0] + "'");
            printHelp(err);
            return 2;
        }
        CliCommand c = make.get();
        CommandLine cl = commandLine(c);
        boolean debug = Boolean.getBoolean("persephonee.debug");
        try {
            try {
                cl.parseArgs(Arrays.copyOfRange(argv, 1, argv.length));
            } finally {
                if (!cl.getUnmatchedArguments().isEmpty()) {
                    throw new CommandLine.UnmatchedArgumentException(cl, cl.getUnmatchedArguments());
                }
            }
            if (cl.isUsageHelpRequested()) {
                cl.usage(out);
                return 0;
            }
            Engines.configureOffline();
            return c.run(out, err);
        } catch (CommandLine.ParameterException e) {
            err.println("error: " + CliErrors.describe(e));
            err.println(synopsis(cl));
            return 2;
        } catch (CliException e) {
            err.println("error: " + e.getMessage());
            err.println(synopsis(cl));
            return 2;
        } catch (OutOfMemoryError e) {
            err.println("error: out of memory (" + e.getMessage() + ")");
            return 1;
        } catch (Exception e) {
            err.println("error: " + describe(e));
            if (debug) {
                e.printStackTrace(err);
            }
            return 1;
        }
    }

    /** The command's usage line and where its options are listed. */
    private static String synopsis(CommandLine cl) {
        String[] custom = cl.getCommandSpec().usageMessage().customSynopsis();
        String line = custom.length > 0 ? custom[0] : "persephonee " + cl.getCommandName() + " [options]";
        return "usage: " + line + "   (--help lists the options)";
    }

    /** One line per cause, without class names where the message says enough. */
    static String describe(Throwable e) {
        List<String> parts = new ArrayList<>();
        Throwable t = e;
        while (t != null && parts.size() < 4) {
            String m = t.getMessage();
            String s0 = m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
            if (t instanceof java.nio.file.NoSuchFileException nf) {
                s0 = nf.getFile() + ": " + (nf.getReason() == null ? "no such file or folder" : nf.getReason());
            } else if (t instanceof java.nio.file.AccessDeniedException ad) {
                s0 = ad.getFile() + ": permission denied";
            }
            String s = s0;
            if (parts.stream().noneMatch(p -> p.contains(s))) {
                parts.add(s);
            }
            if (t instanceof org.persephonee.core.backbone.BackboneFormatException
                    || t instanceof org.persephonee.core.export.BundleException
                    || t instanceof org.persephonee.core.data.ImageDecodeException) {
                // these already describe their cause for a user (a parser's own words would only add noise)
                break;
            }
            t = t.getCause() == t ? null : t.getCause();
        }
        return String.join(": ", parts);
    }

    private void printHelp(PrintStream out) {
        out.println("PersEPhonEE Lab — early-exit CNN personalisation");
        out.println("usage: persephonee                    open the lab (GUI)");
        out.println("       persephonee FOLDER             open the lab with a photo folder imported (or a backbone)");
        out.println("       persephonee COMMAND [options]  (COMMAND --help for its options)");
        out.println("       persephonee --version");
        out.println();
        for (Map.Entry<String, Supplier<CliCommand>> e : commands.entrySet()) {
            String[] d = commandLine(e.getValue().get()).getCommandSpec().usageMessage().description();
            out.printf(Locale.ROOT, "  %-18s %s%n", e.getKey(), d.length > 0 ? d[0] : "");
        }
    }

    public static void main(String[] args) {
        System.exit(new Cli().run(args, System.out, System.err));
    }
}
