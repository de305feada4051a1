package org.persephonee.app.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Minimal {@code --key value} / {@code --flag} parser that rejects unknown options with a clear message. */
public final class Args {
    private final Map<String, String> values = new LinkedHashMap<>();
    private final Set<String> flags = new LinkedHashSet<>();
    private final List<String> positional = new ArrayList<>();

    /**
     * Parses arguments.
     *
     * @param valued option names (without dashes) that take a value
     * @param flagNames option names that take none
     */
    public static Args parse(String[] argv, Set<String> valued, Set<String> flagNames) throws CliException {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String s = argv[i];
            if (s.startsWith("--")) {
                String key = s.substring(2);
                String val = null;
                int eq = key.indexOf('=');
                if (eq >= 0) {
                    val = key.substring(eq + 1);
                    key = key.substring(0, eq);
                }
                if (flagNames.contains(key)) {
                    if (val != null) {
                        throw new CliException("option --" + key + " takes no value");
                    }
                    a.flags.add(key);
                } else if (valued.contains(key)) {
                    if (val == null) {
                        if (i + 1 >= argv.length) {
                            throw new CliException("option --" + key + " needs a value");
                        }
                        val = argv[++i];
                    }
                    a.values.put(key, val);
                } else {
                    throw new CliException("unknown option --" + key);
                }
            } else {
                a.positional.add(s);
            }
        }
        return a;
    }

    public boolean flag(String name) { return flags.contains(name); }

    public String get(String name) { return values.get(name); }

    public String get(String name, String def) { return values.getOrDefault(name, def); }

    public String require(String name) throws CliException {
        String v = values.get(name);
        if (v == null) {
            throw new CliException("missing required option --" + name);
        }
        return v;
    }

    public Path path(String name) throws CliException { return Path.of(require(name)); }

    public Path path(String name, Path def) {
        String v = values.get(name);
        return v == null ? def : Path.of(v);
    }

    public long longValue(String name, long def) throws CliException {
        String v = values.get(name);
        if (v == null) {
            return def;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new CliException("--" + name + " must be an integer, got '" + v + "'");
        }
    }

    public int intValue(String name, int def) throws CliException {
        long v = longValue(name, def);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new CliException("--" + name + " is out of range: " + v);
        }
        return (int) v;
    }

    public double doubleValue(String name, double def) throws CliException {
        String v = values.get(name);
        if (v == null) {
            return def;
        }
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new CliException("--" + name + " must be a number, got '" + v + "'");
        }
    }

    public List<String> positional() { return positional; }
}
