package org.persephonee.app.cli;

import org.persephonee.core.engine.Engines;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Headless command line: {@code persephonee SUBCOMMAND [options]}. */
public final class Cli {
    private final Map<String, Command> commands = new LinkedHashMap<>();

    public Cli() {
        for (Command c : List.of(new InspectCommand(), new EvaluateBackboneCommand(), new PretrainCommand(),
                new MakePersonasCommand(), new ImportCommand(), new SmokeCommand(), new DoctorCommand(),
                new PersonaliseCommand(), new EvaluateCommand(), new BenchCommand())) {
            commands.put(c.name(), c);
        }
    }

    /** Entry point for a subcommand; never throws, returns the exit code. */
    public int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0 || Set.of("help", "--help", "-h").contains(argv[0])) {
            printHelp(out);
            return argv.length == 0 ? 2 : 0;
        }
        Command c = commands.get(argv[0]);
        if (c == null) {
            err.println("error: unknown command '" + argv[0] + "'");
            printHelp(err);
            return 2;
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        boolean debug = Boolean.getBoolean("persephonee.debug");
        try {
            Args args = Args.parse(rest, c.valuedOptions(), c.flagOptions());
            if (args.flag("help")) {
                out.println("usage: persephonee " + c.usage());
                return 0;
            }
            Engines.configureOffline();
            return c.run(args, out, err);
        } catch (CliException e) {
            err.println("error: " + e.getMessage());
            err.println("usage: persephonee " + c.usage().lines().findFirst().orElse(""));
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
        for (Command c : commands.values()) {
            out.printf("  %-18s %s%n", c.name(), c.summary());
        }
    }

    public static void main(String[] args) {
        System.exit(new Cli().run(args, System.out, System.err));
    }
}
