package org.persephonee.app.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** picocli's parse errors in the CLI's own words: one line naming the option and what it needs. */
final class CliErrors {
    private CliErrors() { }

    static String describe(CommandLine.ParameterException e) {
        if (e instanceof CommandLine.MissingParameterException m) {
            List<String> names = m.getMissing().stream().map(CliErrors::name).toList();
            if (e.getMessage().startsWith("Missing required parameter for option")) {
                return "option " + names.get(0) + " needs a value";
            }
            return "missing required option" + (names.size() > 1 ? "s " : " ") + String.join(", ", names);
        }
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            String first = u.getUnmatched().isEmpty() ? "" : u.getUnmatched().get(0);
            List<String> hints = u.getSuggestions();
            String hint = hints.isEmpty() ? "" : " (did you mean " + String.join(" or ", hints) + "?)";
            if (first.startsWith("-")) {
                int eq = first.indexOf('=');
                return "unknown option " + (eq > 0 ? first.substring(0, eq) : first) + hint;
            }
            return "unexpected argument '" + first + "' (options start with --)";
        }
        ArgSpec spec = e.getArgSpec();
        if (spec instanceof OptionSpec o && e.getMessage().startsWith("Invalid value")) {
            Class<?> t = o.type();
            String what;
            if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
                what = "an integer";
            } else if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
                what = "a number";
            } else if (t.isEnum()) {
                what = "one of " + Arrays.stream(t.getEnumConstants())
                        .map(c -> ((Enum<?>) c).name().toLowerCase(Locale.ROOT).replace('_', '-'))
                        .collect(Collectors.joining(", "));
            } else {
                return e.getMessage();
            }
            return name(o) + " must be " + what + ", got '" + e.getValue() + "'";
        }
        String msg = e.getMessage();
        return msg.isEmpty() ? msg : Character.toLowerCase(msg.charAt(0)) + msg.substring(1);
    }

    private static String name(ArgSpec a) {
        return a instanceof OptionSpec o ? o.longestName() : a.paramLabel();
    }
}
