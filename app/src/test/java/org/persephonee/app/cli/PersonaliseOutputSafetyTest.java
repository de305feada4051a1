package org.persephonee.app.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.export.BundleTarget;
import org.persephonee.core.export.BundleWriter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code personalise --out} is checked before any work: a folder that is not a bundle, or one another run is
 * writing, is refused at once, and an interrupted run's leftovers are repaired and reported. The backbone
 * given does not exist: a run that got past the check would fail on it instead.
 */
class PersonaliseOutputSafetyTest {
    @TempDir
    Path tmp;

    private CliTest.Run personalise(Path out) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        return CliTest.cli("personalise", "--backbone", tmp.resolve("no-backbone").toString(), "--data",
                data.toString(), "--out", out.toString());
    }

    private static void fakeBundle(Path dir, String tag) throws Exception {
        Files.createDirectories(dir.resolve("backbone"));
        Files.writeString(dir.resolve("final.params"), tag);
        Files.writeString(dir.resolve(BundleWriter.CONFIG), "{\"format\": \"persephonee-bundle\", "
                + "\"schema\": \"persephonee-exit-config\", \"schemaVersion\": 1, \"backbone\": {\"path\": \"backbone\"}, "
                + "\"exits\": [], \"finalExit\": {\"kind\": \"refit\", \"weights\": \"final.params\"}}");
    }

    @Test
    void aFolderThatIsNotABundleIsRefusedBeforeAnyWork() throws Exception {
        Path out = tmp.resolve("my-stuff");
        Files.createDirectories(out.resolve("photos"));
        Files.writeString(out.resolve("notes.txt"), "keep me");
        Files.writeString(out.resolve(BundleWriter.CONFIG), "");
        CliTest.Run r = personalise(out);
        assertEquals(1, r.code(), r.err());
        assertEquals("error: " + out + ": refusing to replace: not a bundle written by persephonee "
                + "(exit-config.json is empty; holds notes.txt, photos/)", r.err().strip());
        assertEquals("keep me", Files.readString(out.resolve("notes.txt")));
        assertTrue(Files.isDirectory(out.resolve("photos")));
    }

    @Test
    void aBundleAnotherRunIsWritingIsRefusedAtOnce() throws Exception {
        Path out = tmp.resolve("bundle");
        try (BundleTarget other = BundleWriter.checkTarget(out)) {
            CliTest.Run r = personalise(out);
            assertEquals(1, r.code(), r.err());
            assertEquals("error: " + out + ": another run is writing this bundle (pid " + ProcessHandle.current().pid()
                    + ")", r.err().strip());
        }
        assertFalse(Files.exists(tmp.resolve(".bundle.lock")));
    }

    @Test
    void leftoversOfAKilledRunAreRepairedAndReportedFirst() throws Exception {
        Path out = tmp.resolve("b");
        fakeBundle(tmp.resolve(".b.old-1234"), "old");
        fakeBundle(tmp.resolve(".b-5678"), "new");
        Path spills = Files.createDirectories(tmp.resolve("spills"));
        Files.write(spills.resolve("persephonee-features-999999999-1.f32"), new byte[2 << 20]);
        String tmpdir = System.getProperty("java.io.tmpdir");
        CliTest.Run r;
        try {
            System.setProperty("java.io.tmpdir", spills.toString());
            r = personalise(out);
        } finally {
            System.setProperty("java.io.tmpdir", tmpdir);
        }
        List<String> lines = r.err().lines().toList();
        assertEquals(out + ": restored the earlier bundle from .b.old-1234, where an interrupted run had moved it "
                + "aside", lines.get(0), r.err());
        assertTrue(lines.get(1).startsWith(out + ": removed .b-5678 ("), r.err());
        assertEquals("removed 1 feature-cache spill file left by ended runs in " + spills + " (2.0 MB)", lines.get(2));
        assertTrue(lines.get(3).startsWith("error: ") && lines.get(3).contains("no-backbone"), r.err());
        assertEquals("old", Files.readString(out.resolve("final.params")));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".b")).toList());
        }
        try (Stream<Path> s = Files.list(spills)) {
            assertEquals(0, s.count());
        }
    }
}
