package org.persephonee.core.engine;

import com.google.gson.reflect.TypeToken;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The file of {@link EngineGuard} verdicts, one per CPU model, CPU flags, libtorch and probe version: where it
 * lives, the key of a verdict, reading it (an unreadable file or entry is ignored), saving it, and dropping one
 * CPU's verdicts. A failure to write is reported on stderr and never stops the engine.
 */
final class VerdictCache {
    private VerdictCache() { }

    /** The cache file: {@value EngineGuard#CACHE} when set, else {@code ~/.persephonee/engine-check.json}. */
    static Path file() {
        String p = System.getProperty(EngineGuard.CACHE);
        return p != null ? Path.of(p) : Path.of(System.getProperty("user.home"), ".persephonee",
                "engine-check.json");
    }

    /** The key of a verdict; a forced failure (tests) is kept apart from a real one. */
    static String key(String model, List<String> flags, boolean forceFail) {
        return cpuPrefix(model, flags) + "libtorch " + EngineGuard.LIBTORCH + "|probe " + EngineGuard.PROBE_VERSION
                + (forceFail ? "|forced" : "");
    }

    private static String cpuPrefix(String model, List<String> flags) {
        return model + "|" + String.join(",", flags) + "|";
    }

    /** The verdicts in the file, without incomplete entries; empty when there is none or it cannot be read. */
    static Map<String, EngineGuard.Verdict> read(Path file) {
        try {
            if (Files.isRegularFile(file)) {
                Map<String, EngineGuard.Verdict> m = EngineGuard.GSON.fromJson(Files.readString(file),
                        new TypeToken<LinkedHashMap<String, EngineGuard.Verdict>>() { }.getType());
                if (m != null) {
                    m.values().removeIf(v -> v == null || v.status() == null || v.probes() == null);
                    return m;
                }
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("persephonee: ignoring an unreadable engine self-check cache " + file + ": "
                    + e.getMessage());
        }
        return new LinkedHashMap<>();
    }

    /** Writes the verdicts to the file, creating its folder. */
    static void save(Path file, Map<String, EngineGuard.Verdict> cache) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            AtomicFiles.writeString(file, EngineGuard.GSON.toJson(cache));
        } catch (IOException | RuntimeException e) {
            System.err.println("persephonee: could not save the engine self-check verdict to " + file
                    + ": " + e.getMessage());
        }
    }

    /** Drops the verdicts of this CPU model and flags (any libtorch or probe version) from the file. */
    static void forget(String model, List<String> flags) {
        Path file = file();
        Map<String, EngineGuard.Verdict> cache = read(file);
        String prefix = cpuPrefix(model, flags);
        if (cache.keySet().removeIf(k -> k.startsWith(prefix))) {
            try {
                AtomicFiles.writeString(file, EngineGuard.GSON.toJson(cache));
            } catch (IOException | RuntimeException e) {
                System.err.println("persephonee: could not update " + file + ": " + e.getMessage());
            }
        }
    }
}
