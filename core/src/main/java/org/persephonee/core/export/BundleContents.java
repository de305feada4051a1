package org.persephonee.core.export;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.persephonee.core.export.BundleWriter.CONFIG;
import static org.persephonee.core.export.BundleWriter.FORMAT;
import static org.persephonee.core.export.BundleWriter.FORMAT_FIELD;

/**
 * What may be replaced by a bundle write: a folder holding only what a bundle holds (its config, the files the config
 * names, exit weights, the backbone copy, the lab's kept run, atomic-write leftovers), so that a folder of someone's
 * photos or any other data is never deleted by a mistyped {@code --out}.
 */
final class BundleContents {
    /** Files a bundle may hold besides exit weights and whatever its config names. */
    private static final Set<String> BUNDLE_FILES = Set.of(CONFIG, "final.params", "batchnorm-stats.bin",
            org.persephonee.core.workspace.RunRecord.FILE, org.persephonee.core.personalise.ResumeState.FILE);
    private static final String BACKBONE_DIR = "backbone";
    private static final Pattern EXIT_WEIGHTS = Pattern.compile("exit-[^/\\\\]+\\.params");
    /** {@link AtomicFiles#write}'s temporary: "." + name + digits + ".tmp" (bundle file names end in a letter). */
    private static final Pattern ATOMIC_TMP = Pattern.compile("\\.(.*\\D)\\d+\\.tmp");

    private BundleContents() { }

    /** Throws unless {@code target} is missing, an empty folder or a bundle (see the class comment). */
    static void refuseUnlessReplaceable(Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(target)) {
            throw new IOException(target + ": exists and is not a folder");
        }
        if (BundleTarget.isEmpty(target)) {
            return;
        }
        List<String> problems = problems(target);
        if (!problems.isEmpty()) {
            throw new IOException(target + ": refusing to replace: not a bundle written by persephonee ("
                    + String.join("; ", problems) + ")");
        }
    }

    /** Why {@code dir} is not a bundle this class may replace; empty when it is one. */
    static List<String> problems(Path dir) {
        List<String> problems = new ArrayList<>();
        JsonObject cfg = readConfig(dir, problems);
        List<String> foreign = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                boolean isDir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
                if (!belongs(n, isDir, Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), cfg)) {
                    foreign.add(isDir ? n + "/" : n);
                }
            }
        } catch (IOException e) {
            problems.add("cannot be listed: " + e.getMessage());
        }
        if (!foreign.isEmpty()) {
            problems.add("holds " + String.join(", ", foreign.subList(0, Math.min(6, foreign.size())))
                    + (foreign.size() > 6 ? " and " + (foreign.size() - 6) + " more" : ""));
        }
        return problems;
    }

    /** The bundle's config when it is one written here (or before the marker existed); else null, with why. */
    private static JsonObject readConfig(Path dir, List<String> problems) {
        Path f = dir.resolve(CONFIG);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            problems.add(Files.exists(f, LinkOption.NOFOLLOW_LINKS) ? CONFIG + " is not a regular file" : "no " + CONFIG);
            return null;
        }
        try {
            if (Files.size(f) > (16 << 20)) {
                problems.add(CONFIG + " is too large to be an exit config");
                return null;
            }
            String text = Files.readString(f);
            if (text.isBlank()) {
                problems.add(CONFIG + " is empty");
                return null;
            }
            JsonElement e = JsonParser.parseString(text);
            if (e.isJsonObject()) {
                JsonObject o = e.getAsJsonObject();
                JsonElement format = o.get(FORMAT_FIELD);
                JsonElement schema = o.get("schema");
                if (format != null ? isString(format, FORMAT) : schema != null && isString(schema, ExitConfig.SCHEMA)) {
                    return o;
                }
            }
            problems.add(CONFIG + " is not a persephonee exit config");
        } catch (IOException e) {
            problems.add(CONFIG + " cannot be read (" + e.getMessage() + ")");
        } catch (JsonParseException e) {
            problems.add(CONFIG + " is not valid JSON");
        }
        return null;
    }

    private static boolean isString(JsonElement e, String value) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().equals(value);
    }

    /** True when an entry with this name and kind is one a bundle holds. */
    private static boolean belongs(String name, boolean isDir, boolean isFile, JsonObject cfg) {
        if (isDir) {
            return cfg != null && backboneNames(cfg).contains(name);
        }
        if (!isFile) {
            return false;
        }
        Matcher m = ATOMIC_TMP.matcher(name);
        String file = m.matches() ? m.group(1) : name;
        return BUNDLE_FILES.contains(file) || EXIT_WEIGHTS.matcher(file).matches()
                || cfg != null && referencedFiles(cfg).contains(file);
    }

    private static Set<String> backboneNames(JsonObject cfg) {
        Set<String> s = new java.util.HashSet<>();
        s.add(BACKBONE_DIR);
        String p = string(cfg.get("backbone"), "path");
        if (simpleName(p)) {
            s.add(p);
        }
        return s;
    }

    /** Top-level file names the config refers to (weights, BatchNorm statistics). */
    private static Set<String> referencedFiles(JsonObject cfg) {
        Set<String> s = new java.util.HashSet<>();
        JsonElement exits = cfg.get("exits");
        if (exits != null && exits.isJsonArray()) {
            for (JsonElement e : exits.getAsJsonArray()) {
                s.add(string(e, "weights"));
            }
        }
        s.add(string(cfg.get("finalExit"), "weights"));
        s.add(string(cfg.get("finalExit"), "retrainedWeights"));
        JsonElement fin = cfg.get("finalExit");
        JsonElement ensemble = fin != null && fin.isJsonObject() ? fin.getAsJsonObject().get("ensemble") : null;
        if (ensemble != null && ensemble.isJsonArray()) {
            for (JsonElement e : ensemble.getAsJsonArray()) {
                s.add(string(e, "weights"));
            }
        }
        s.add(string(cfg.get("batchNorm"), "file"));
        s.removeIf(n -> !simpleName(n));
        return s;
    }

    private static String string(JsonElement obj, String field) {
        if (obj == null || !obj.isJsonObject()) {
            return null;
        }
        JsonElement v = obj.getAsJsonObject().get(field);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString() ? v.getAsString() : null;
    }

    private static boolean simpleName(String n) {
        return n != null && !n.isEmpty() && !n.equals(".") && !n.equals("..") && n.indexOf('/') < 0
                && n.indexOf('\\') < 0;
    }

    /** True when {@code dir} is a bundle with its config, backbone folder and every file its config names. */
    static boolean complete(Path dir) {
        if (!problems(dir).isEmpty()) {
            return false;
        }
        JsonObject cfg = readConfig(dir, new ArrayList<>());
        String bbPath = string(cfg.get("backbone"), "path");
        if (!Files.isDirectory(dir.resolve(simpleName(bbPath) ? bbPath : BACKBONE_DIR), LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        for (String f : referencedFiles(cfg)) {
            if (!Files.isRegularFile(dir.resolve(f), LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }
}
