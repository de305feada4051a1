package org.persephonee.core.workspace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs kept in the workspace: newest first, the oldest removed beyond the cap, a damaged one skipped by name. */
class RunHistoryTest {
    private static RunRecord run(double accuracy) {
        RunRecord r = new RunRecord();
        r.exits.add("block3:grid");
        r.exitProbabilities.add(new float[][] {{0.9f, 0.1f}});
        r.finalProbabilities = new float[][] {{0.2f, 0.8f}};
        r.truth = new int[] {1};
        r.classes = 2;
        r.accuracy = accuracy;
        return r;
    }

    @Test
    void runsComeBackNewestFirstAndTheOldestGoBeyondTheCap(@TempDir Path ws) throws Exception {
        RunHistory h = new RunHistory(ws);
        assertTrue(h.list().entries().isEmpty());
        for (int k = 1; k <= RunHistory.KEEP + 2; k++) {
            assertEquals(k, h.add(run(k / 100.0)));
        }
        List<RunHistory.Entry> e = h.list().entries();
        assertEquals(RunHistory.KEEP, e.size());
        assertEquals(RunHistory.KEEP + 2, e.get(0).number(), "newest first");
        assertEquals(0.22, e.get(0).record().accuracy, 1e-9);
        assertEquals(3, e.get(e.size() - 1).number(), "runs 1 and 2 were removed");
        assertTrue(Files.notExists(ws.resolve(RunHistory.DIR).resolve("0001")));
    }

    @Test
    void aDamagedRunIsSkippedAndNamed(@TempDir Path ws) throws Exception {
        RunHistory h = new RunHistory(ws);
        h.add(run(0.5));
        h.add(run(0.6));
        Files.writeString(ws.resolve(RunHistory.DIR).resolve("0001").resolve(RunRecord.FILE), "{ not json");
        RunHistory.Listing l = h.list();
        assertEquals(1, l.entries().size());
        assertEquals(2, l.entries().get(0).number());
        assertEquals(1, l.problems().size());
        assertTrue(l.problems().get(0).contains("0001"), l.problems().get(0));
        assertEquals(3, h.add(run(0.7)), "numbers go on after the damaged one");
    }

    @Test
    void whetherARunGuessedItsClassesComesBackAfterARestart(@TempDir Path ws) throws Exception {
        RunHistory h = new RunHistory(ws);
        RunRecord guessed = run(0.7);
        guessed.config.put("classes", List.of());
        RunRecord named = run(0.8);
        named.config.put("classes", List.of("Bag", "Dress"));
        RunRecord labelled = run(0.9);
        labelled.config.put("classes", List.of());
        labelled.labelsUsed = 12;
        h.add(guessed);
        h.add(named);
        h.add(labelled);
        h.add(run(0.6));
        List<RunHistory.Entry> e = h.list().entries();
        assertEquals(List.of(false, false, false, true), e.stream().map(x -> x.record().labelSpaceGuessed()).toList(),
                "newest first: no config kept (an old record), labels, classes named, guessed");
    }

    /**
     * The last run's record keeps the training photos' out-of-fold predictions (the lab's out-of-fold marker comes
     * back with it); the history's copies leave them out, and the rest of the record is the same.
     */
    @Test
    void theHistoryLeavesTheOutOfFoldPredictionsToTheLastRun(@TempDir Path ws) throws Exception {
        RunRecord r = run(0.7);
        r.validationExitProbabilities = List.<float[][]>of(new float[][] {{0.9f, 0.1f}, {0.2f, 0.8f}});
        r.validationFinalProbabilities = new float[][] {{0.8f, 0.2f}, {0.3f, 0.7f}};
        r.validationTruth = new int[] {0, -1};
        Path last = Files.createDirectories(ws.resolve("last-run"));
        r.save(last);
        RunRecord kept = RunRecord.load(last);
        assertNotNull(kept.validationPredictions(), "the last run's record has them");
        assertEquals(2, kept.validationPredictions().size());
        new RunHistory(ws).add(r);
        RunRecord inHistory = new RunHistory(ws).list().entries().get(0).record();
        assertNull(inHistory.validationExitProbabilities);
        assertNull(inHistory.validationPredictions());
        assertEquals(0.7, inHistory.accuracy, 1e-9);
        assertTrue(Files.size(ws.resolve(RunHistory.DIR).resolve("0001").resolve(RunRecord.FILE))
                < Files.size(last.resolve(RunRecord.FILE)));
    }
}
