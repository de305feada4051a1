package org.persephonee.core.export;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad targets never lose a user's file: only folders this tool wrote are replaced, one run writes a bundle at
 * a time, and what a killed run leaves is repaired by the next one. Bundles here are small fakes (the files
 * a bundle holds, with made-up contents): replacing and repairing do not load them.
 */
class BundleWriterSafetyTest {
    /** A pid no process has (Linux pids stay below 2^22). */
    private static final long DEAD = 999_999_999L;

    @TempDir
    Path tmp;

    private static String config(boolean marker) {
        return "{" + (marker ? "\"format\": \"persephonee-bundle\", " : "")
                + "\"schema\": \"persephonee-exit-config\", \"schemaVersion\": 1, "
                + "\"backbone\": {\"id\": \"bb\", \"sha256\": \"00\", \"path\": \"backbone\"}, "
                + "\"labels\": [\"a\", \"b\"], "
                + "\"exits\": [{\"stage\": \"block1\", \"weights\": \"exit-block1.params\", \"threshold\": 0.9}], "
                + "\"finalExit\": {\"kind\": \"refit\", \"stage\": \"block2\", \"weights\": \"final.params\"}}\n";
    }

    /** A complete fake bundle; {@code tag} is its final.params content, to tell bundles apart. */
    private static Path bundle(Path dir, boolean marker, String tag) throws IOException {
        Files.createDirectories(dir.resolve("backbone"));
        Files.writeString(dir.resolve("backbone").resolve("backbone.json"), "{}");
        Files.write(dir.resolve("exit-block1.params"), new byte[1000]);
        Files.writeString(dir.resolve("final.params"), tag);
        Files.writeString(dir.resolve(BundleWriter.CONFIG), config(marker));
        return dir;
    }

    private Path source() throws IOException {
        Path s = tmp.resolve("source");
        return Files.isDirectory(s) ? s : bundle(s, false, "source");
    }

    private Path subset(Path out) throws IOException {
        try (BundleTarget t = BundleWriter.checkTarget(out)) {
            return BundleWriter.subset(source(), t, List.of("block1"), new double[] {0.5}, expected(0.9));
        }
    }

    private static ExitConfig.Expected expected(double accuracy) {
        ExitConfig.Expected e = new ExitConfig.Expected();
        e.accuracy = accuracy;
        return e;
    }

    /** Every file under {@code dir} and its content. */
    private static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                m.put(dir.relativize(p).toString(), Files.isRegularFile(p) ? Files.readString(p) : "/");
            }
        }
        return m;
    }

    /** Hidden siblings of {@code target} (temporaries, moved-aside bundles, the lock file). */
    private static List<String> hidden(Path target) throws IOException {
        try (Stream<Path> s = Files.list(target.getParent())) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("." + target.getFileName())).sorted().toList();
        }
    }

    @Test
    void aFolderWithUserFilesIsRefusedEvenWhenItHasAnExitConfig() throws Exception {
        Path mine = tmp.resolve("mine");
        Files.createDirectories(mine.resolve("photos"));
        Files.writeString(mine.resolve("notes.txt"), "years of work");
        Files.writeString(mine.resolve("photos").resolve("cat.jpg"), "meow");
        Files.writeString(mine.resolve(BundleWriter.CONFIG), "");
        Map<String, String> before = snapshot(mine);

        IOException e = assertThrows(IOException.class, () -> subset(mine));
        assertEquals(mine.toAbsolutePath() + ": refusing to replace: not a bundle written by persephonee "
                + "(exit-config.json is empty; holds notes.txt, photos/)", e.getMessage());
        e = assertThrows(IOException.class, () -> BundleWriter.checkTarget(mine));
        assertTrue(e.getMessage().contains("refusing to replace"), e.getMessage());
        assertEquals(before, snapshot(mine), "nothing in the folder changed");
        assertEquals(List.of(), hidden(mine), "no lock file or temporary folder left");
    }

    @Test
    void foreignConfigsAndExtraFilesAreRefusedNamingWhy() throws Exception {
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        Files.writeString(other.resolve(BundleWriter.CONFIG), "{\"hello\": 1}");
        IOException e = assertThrows(IOException.class, () -> BundleWriter.checkTarget(other));
        assertTrue(e.getMessage().endsWith("(exit-config.json is not a persephonee exit config)"), e.getMessage());

        Path junk = tmp.resolve("junk");
        Files.createDirectories(junk);
        Files.writeString(junk.resolve(BundleWriter.CONFIG), "not json {");
        e = assertThrows(IOException.class, () -> BundleWriter.checkTarget(junk));
        assertTrue(e.getMessage().contains("exit-config.json is not"), e.getMessage());

        Path nocfg = tmp.resolve("nocfg");
        Files.createDirectories(nocfg.resolve("backbone"));
        e = assertThrows(IOException.class, () -> BundleWriter.checkTarget(nocfg));
        assertTrue(e.getMessage().endsWith("(no exit-config.json; holds backbone/)"), e.getMessage());

        // a real bundle the user added a file to: the file would be lost, so it is refused too
        Path added = bundle(tmp.resolve("added"), true, "x");
        Files.writeString(added.resolve("README.md"), "my notes on this bundle");
        Files.createDirectories(added.resolve("final.params.d"));
        e = assertThrows(IOException.class, () -> subset(added));
        assertTrue(e.getMessage().endsWith("(holds README.md, final.params.d/)"), e.getMessage());
        assertEquals("my notes on this bundle", Files.readString(added.resolve("README.md")));
    }

    @Test
    void bundlesCarryTheMarkerAndOwnAndEarlierBundlesAreReplaced() throws Exception {
        Path out = subset(tmp.resolve("nested").resolve("out"));
        JsonObject cfg = JsonParser.parseString(Files.readString(out.resolve(BundleWriter.CONFIG))).getAsJsonObject();
        assertEquals("format", cfg.keySet().iterator().next(), "the marker comes first");
        assertEquals(BundleWriter.FORMAT, cfg.get("format").getAsString());
        assertEquals(ExitConfig.SCHEMA, cfg.get("schema").getAsString());
        assertEquals(ExitConfig.SCHEMA_VERSION, cfg.get("schemaVersion").getAsInt());
        assertTrue(Files.isRegularFile(out.resolve("final.params")) && Files.isDirectory(out.resolve("backbone")));
        Files.writeString(out.resolve("run.json"), "{}"); // what the lab keeps next to a run's bundle
        assertEquals(out, subset(out), "a bundle written here is replaced");

        // a bundle written before the marker existed, with an interrupted atomic write inside
        Path legacy = bundle(tmp.resolve("legacy"), false, "legacy");
        Files.writeString(legacy.resolve(".exit-config.json8123456.tmp"), "{");
        subset(legacy);
        assertEquals("source", Files.readString(legacy.resolve("final.params")));
        assertFalse(Files.exists(legacy.resolve(".exit-config.json8123456.tmp")));
        assertEquals(List.of(), hidden(legacy));

        // an empty folder is fine too
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        subset(empty);
        assertTrue(Files.isRegularFile(empty.resolve(BundleWriter.CONFIG)));
    }

    @Test
    void aSecondWriterInThisProcessIsRefusedAtOnceAndTheLockGoesWithClose() throws Exception {
        Path out = tmp.resolve("busy");
        Path lockFile = tmp.resolve(".busy.lock");
        long pid = ProcessHandle.current().pid();
        try (BundleTarget t = BundleWriter.checkTarget(out)) {
            assertEquals(List.of(), t.notes());
            assertEquals(pid + "\n", Files.readString(lockFile));
            // another thread (as two lab exports or two CLI runs in one JVM would)
            CompletableFuture<String> other = CompletableFuture.supplyAsync(() -> {
                try (BundleTarget t2 = BundleWriter.checkTarget(out)) {
                    return "got the lock";
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            assertEquals(out + ": another run is writing this bundle (pid " + pid + ")", other.get(30, TimeUnit.SECONDS));
            IOException e = assertThrows(IOException.class, () -> subset(out));
            assertTrue(e.getMessage().contains("another run is writing this bundle"), e.getMessage());
            assertFalse(Files.exists(out), "the refused writer wrote nothing");
            BundleWriter.subset(source(), t, List.of("block1"), new double[] {0.5}, new ExitConfig.Expected());
            assertTrue(Files.isRegularFile(out.resolve(BundleWriter.CONFIG)));
        }
        assertFalse(Files.exists(lockFile), "the lock file is removed on close");
        try (BundleTarget t = BundleWriter.checkTarget(out)) {
            assertTrue(Files.exists(lockFile));
        }
        assertEquals(List.of(), hidden(out));
    }

    @Test
    void aStaleLockFileDoesNotBlockAndARefusedCheckLeavesNoFolders() throws Exception {
        Path out = tmp.resolve("stale");
        Files.writeString(tmp.resolve(".stale.lock"), DEAD + "\n");
        try (BundleTarget t = BundleWriter.checkTarget(out)) {
            assertEquals(List.of(), t.notes());
        }
        assertEquals(List.of(), hidden(out));
        // parent folders made for the lock are removed again when nothing was written
        Path deep = tmp.resolve("a").resolve("b").resolve("bundle");
        try (BundleTarget t = BundleWriter.checkTarget(deep)) {
            assertTrue(Files.isDirectory(deep.getParent()));
        }
        assertFalse(Files.exists(tmp.resolve("a")));
    }

    @Test
    void anotherProcessHoldingTheLockIsNamedAndItsDeathFreesTheBundle() throws Exception {
        Path out = tmp.resolve("shared");
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), BundleLockHolder.class.getName(), out.toString());
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            assertNotNull(line, "the child did not lock");
            assertEquals("LOCKED " + child.pid(), line);
            long t0 = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> BundleWriter.checkTarget(out));
            assertEquals(out + ": another run is writing this bundle (pid " + child.pid() + ")", e.getMessage());
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "refused at once, not after waiting");
            // killed: the OS drops its lock; the lock file it leaves does not block
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertTrue(Files.exists(tmp.resolve(".shared.lock")), "a killed holder leaves its lock file");
            try (BundleTarget t = BundleWriter.checkTarget(out)) {
                BundleWriter.subset(source(), t, List.of("block1"), new double[] {0.5}, new ExitConfig.Expected());
            }
            assertEquals(List.of(), hidden(out));
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aKillBetweenTheTwoRenamesIsUndoneByRestoringTheEarlierBundle() throws Exception {
        // names used before this fix: the old bundle moved aside, the complete new one not yet renamed in
        Path b = tmp.resolve("b");
        bundle(tmp.resolve(".b.old-1234567"), false, "old");
        bundle(tmp.resolve(".b-7654321"), true, "new");
        try (BundleTarget t = BundleWriter.checkTarget(b)) {
            assertEquals("old", Files.readString(b.resolve("final.params")), "the earlier bundle is back");
            assertEquals(List.of(".b.lock"), hidden(b));
            List<String> notes = t.notes();
            assertEquals(2, notes.size(), notes.toString());
            assertEquals(b + ": restored the earlier bundle from .b.old-1234567, where an interrupted run had moved "
                    + "it aside", notes.get(0));
            assertTrue(notes.get(1).startsWith(b + ": removed .b-7654321 ("), notes.get(1));
        }
        // current names, an empty target folder, two moved-aside bundles (the newer is restored), a partial temp
        Path c = Files.createDirectories(tmp.resolve("c"));
        Path older = bundle(tmp.resolve(".c.old-" + DEAD + "-1"), true, "older");
        Files.setLastModifiedTime(older.resolve(BundleWriter.CONFIG),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        bundle(tmp.resolve(".c.old-" + DEAD + "-2"), true, "newer");
        Files.createDirectories(tmp.resolve(".c.tmp-" + DEAD + "-3").resolve("backbone"));
        try (BundleTarget t = BundleWriter.checkTarget(c)) {
            assertEquals("newer", Files.readString(c.resolve("final.params")));
            assertEquals(3, t.notes().size(), t.notes().toString());
            assertTrue(t.notes().get(0).contains("restored the earlier bundle from .c.old-" + DEAD + "-2"));
        }
        assertEquals(List.of(), hidden(c));
    }

    @Test
    void leftoversOfDeadRunsAreRemovedAndEverythingElseIsLeftAlone() throws Exception {
        Path b = bundle(tmp.resolve("b"), true, "current");
        Map<String, String> before = snapshot(b);
        // a killed run's new bundle after it replaced the old one (old half deleted) and another's partial temp
        Path old = bundle(tmp.resolve(".b.old-" + DEAD + "-5"), true, "old");
        Files.delete(old.resolve("final.params"));
        Path temp = Files.createDirectories(tmp.resolve(".b.tmp-" + DEAD + "-6"));
        Files.write(temp.resolve("exit-block1.params"), new byte[1 << 20]);
        // not ours to touch: a live process's temp, another bundle's, a user's hidden folder, a file
        long live = ProcessHandle.current().parent().orElseThrow().pid();
        Path liveTemp = Files.createDirectories(tmp.resolve(".b.tmp-" + live + "-7"));
        Path otherTarget = Files.createDirectories(tmp.resolve(".b-2.tmp-" + DEAD + "-8"));
        Path otherOld = Files.createDirectories(tmp.resolve(".b.old.tmp-" + DEAD + "-9"));
        Path user = Files.createDirectories(tmp.resolve(".b-notes"));
        Path file = Files.writeString(tmp.resolve(".b-123"), "a file");
        try (BundleTarget t = BundleWriter.checkTarget(b)) {
            List<String> notes = t.notes();
            assertEquals(List.of(
                    b + ": removed .b.old-" + DEAD + "-5 (0.0 MB), an earlier bundle an interrupted run had moved aside",
                    b + ": removed .b.tmp-" + DEAD + "-6 (1.0 MB), an unfinished bundle left by an interrupted run"),
                    notes);
        }
        assertEquals(before, snapshot(b), "the bundle itself is untouched");
        for (Path p : new Path[] {liveTemp, otherTarget, otherOld, user, file}) {
            assertTrue(Files.exists(p), p + " is left alone");
        }
        assertFalse(Files.exists(old) || Files.exists(temp));
    }

    @Test
    void anIncompleteMovedAsideBundleIsNotRestored() throws Exception {
        Path b = tmp.resolve("gone");
        Path old = bundle(tmp.resolve(".gone.old-" + DEAD + "-1"), true, "old");
        Files.delete(old.resolve("exit-block1.params"));
        try (BundleTarget t = BundleWriter.checkTarget(b)) {
            assertEquals(1, t.notes().size(), t.notes().toString());
            assertTrue(t.notes().get(0).contains("removed .gone.old-"), t.notes().get(0));
        }
        assertFalse(Files.exists(b));
        assertEquals(new ArrayList<>(), hidden(b));
    }
}
