package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Feature-cache spill files: named after their process, gone with it, and cleaned up after a kill. */
class FeatureStoreSpillTest {
    @TempDir
    Path tmp;

    private List<String> names() throws Exception {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aSpilledStoreLeavesNothingBehindEvenIfTheProcessIsKilled() throws Exception {
        boolean posix = tmp.getFileSystem().supportedFileAttributeViews().contains("posix");
        try (FeatureStore fs = FeatureStore.mapped(100, 7, tmp)) {
            float[] row = {1, 2, 3, 4, 5, 6, 7};
            fs.put(42, row, 0);
            float[] back = new float[7];
            fs.get(42, back, 0);
            assertArrayEquals(row, back);
            List<String> names = names();
            if (posix) {
                assertEquals(List.of(), names, "the file has no name while in use: a kill leaves nothing");
            } else {
                assertEquals(1, names.size());
                assertTrue(names.get(0).startsWith("persephonee-features-" + ProcessHandle.current().pid() + "-"));
            }
        }
        assertEquals(List.of(), names());
    }

    @Test
    void spillFilesOfEndedProcessesAreRemovedAndReported() throws Exception {
        long self = ProcessHandle.current().pid();
        long parent = ProcessHandle.current().parent().orElseThrow().pid();
        Path dead = Files.write(tmp.resolve("persephonee-features-999999999-123.f32"), new byte[3 << 20]);
        Path reused = Files.write(tmp.resolve("persephonee-features-" + parent + "-456.f32"), new byte[1 << 20]);
        // written long before the process now holding that pid started: that pid was reused
        Files.setLastModifiedTime(reused, FileTime.fromMillis(946_684_800_000L));
        Path mine = Files.write(tmp.resolve("persephonee-features-" + self + "-1.f32"), new byte[10]);
        Path liveOther = Files.write(tmp.resolve("persephonee-features-" + parent + "-2.f32"), new byte[10]);
        Path legacy = Files.write(tmp.resolve("features-123.f32"), new byte[10]);
        Path unrelated = Files.write(tmp.resolve("persephonee-features-x-1.f32"), new byte[10]);

        FeatureStore.Removed r = FeatureStore.removeStaleSpills(tmp);
        assertEquals(2, r.files());
        assertEquals(4L << 20, r.bytes());
        assertEquals("removed 2 feature-cache spill files left by ended runs in " + tmp + " (4.0 MB)", r.describe(tmp));
        assertFalse(Files.exists(dead) || Files.exists(reused));
        for (Path p : new Path[] {mine, liveOther, legacy, unrelated}) {
            assertTrue(Files.exists(p), p + " is left alone");
        }
        assertEquals(0, FeatureStore.removeStaleSpills(tmp.resolve("missing")).files());
    }
}
