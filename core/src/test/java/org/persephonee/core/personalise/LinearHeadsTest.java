package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinearHeadsTest {

    /** Rows whose class is the index of the largest of the first three features, plus noise columns. */
    private static FeatureStore data(int rows, int width, long seed, int[] labels) {
        FeatureStore fs = FeatureStore.inMemory(rows, width);
        Random r = new Random(seed);
        for (int i = 0; i < rows; i++) {
            float[] x = new float[width];
            for (int j = 0; j < width; j++) {
                x[j] = (float) r.nextGaussian();
            }
            labels[i] = i % 3;
            x[labels[i]] += 3f;
            fs.put(i, x, 0);
        }
        return fs;
    }

    private static float[][][] train(List<FeatureStore> in, long[] seeds, int[] labels, int steps) {
        return train(in, seeds, labels, steps, null);
    }

    private static float[][][] train(List<FeatureStore> in, long[] seeds, int[] labels, int steps,
                                     LinearHeads.Resident shared) {
        int n = labels.length;
        try (LinearHeads heads = new LinearHeads(in, 3, seeds, 1, shared)) {
            Random r = new Random(1);
            for (int s = 0; s < steps; s++) {
                int[] idx = new int[16];
                float[] hard = new float[16 * 3];
                float[] hw = new float[16];
                for (int i = 0; i < 16; i++) {
                    idx[i] = r.nextInt(n);
                    hard[i * 3 + labels[idx[i]]] = 1;
                    hw[i] = 1;
                }
                heads.step(idx, hard, hw, new float[16 * 3], new float[16], 2f, 0.03f, 1e-4f);
            }
            float[][][] out = heads.getAll();
            float[][][] p = heads.probabilities(0, n);
            for (int h = 0; h < in.size(); h++) {
                int correct = 0;
                for (int i = 0; i < n; i++) {
                    float[] q = p[h][i];
                    int a = q[0] >= q[1] && q[0] >= q[2] ? 0 : q[1] >= q[2] ? 1 : 2;
                    correct += a == labels[i] ? 1 : 0;
                }
                assertTrue(correct > 0.9 * n, "head " + h + " learns a separable task: " + correct + "/" + n);
            }
            return out;
        }
    }

    @Test
    void headsTrainedTogetherLearnExactlyWhatTheyLearnAlone() {
        int[] labels = new int[90];
        FeatureStore narrow = data(90, 4, 7, labels);
        FeatureStore wide = data(90, 11, 7, new int[90]);
        float[][][] together = train(List.of(narrow, wide), new long[] {5, 6}, labels, 120);
        float[][][] aloneNarrow = train(List.of(narrow), new long[] {5}, labels, 120);
        float[][][] aloneWide = train(List.of(wide), new long[] {6}, labels, 120);
        assertEquals(4 * 3, together[0][0].length, "the narrow head keeps its own width (padding is internal)");
        assertArrayEquals(aloneNarrow[0][0], together[0][0], 1e-5f);
        assertArrayEquals(aloneNarrow[0][1], together[0][1], 1e-5f);
        assertArrayEquals(aloneWide[0][0], together[1][0], 1e-5f);
    }

    @Test
    void rowsGatheredInNativeMemoryTrainExactlyLikeRowsReadFromASpilledCache(@org.junit.jupiter.api.io.TempDir
                                                                           java.nio.file.Path tmp) throws Exception {
        int[] labels = new int[70];
        FeatureStore narrow = data(70, 4, 3, labels);
        FeatureStore wide = data(70, 9, 3, new int[70]);
        try (FeatureStore spilledNarrow = FeatureStore.mapped(70, 4, tmp);
             FeatureStore spilledWide = FeatureStore.mapped(70, 9, tmp)) {
            float[] row = new float[9];
            for (int i = 0; i < 70; i++) {
                narrow.get(i, row, 0);
                spilledNarrow.put(i, row, 0);
                wide.get(i, row, 0);
                spilledWide.put(i, row, 0);
            }
            try (LinearHeads a = new LinearHeads(List.of(narrow, wide), 3, new long[] {1, 2});
                 LinearHeads b = new LinearHeads(List.of(spilledNarrow, spilledWide), 3, new long[] {1, 2})) {
                assertTrue(a.resident(), "an in-memory cache is gathered natively");
                assertTrue(!b.resident(), "a spilled cache is read row by row");
            }
            float[][][] resident = train(List.of(narrow, wide), new long[] {1, 2}, labels, 60);
            float[][][] spilled = train(List.of(spilledNarrow, spilledWide), new long[] {1, 2}, labels, 60);
            for (int h = 0; h < 2; h++) {
                assertArrayEquals(spilled[h][0], resident[h][0], 1e-6f);
                assertArrayEquals(spilled[h][1], resident[h][1], 1e-6f);
            }
        }
    }

    @Test
    void rowsSharedByTrainingsTrainExactlyLikeTheirOwnEvenWhereABatchReachesPastThem() {
        // a run keeps the training rows in native memory once for all its trainings (FeatureCache.resident); a batch
        // with a row past them (here the last 30 of 90) is read from the heap
        int[] labels = new int[90];
        FeatureStore narrow = data(90, 4, 11, labels);
        FeatureStore wide = data(90, 9, 11, new int[90]);
        float[][][] own = train(List.of(narrow, wide), new long[] {3, 4}, labels, 80);
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
            LinearHeads.Resident first60 = LinearHeads.residentRows(List.of(narrow, wide), 60, m);
            assertEquals(60, first60.count());
            float[][][] shared = train(List.of(narrow, wide), new long[] {3, 4}, labels, 80, first60);
            float[][][] sharedTwice = train(List.of(narrow, wide), new long[] {3, 4}, labels, 80, first60);
            for (int h = 0; h < 2; h++) {
                assertArrayEquals(own[h][0], shared[h][0], 0f, "head " + h);
                assertArrayEquals(own[h][1], shared[h][1], 0f, "head " + h);
                assertArrayEquals(own[h][0], sharedTwice[h][0], 0f, "a second training on the same rows, head " + h);
            }
            // rows of other stores are not taken for these
            LinearHeads.Resident others = LinearHeads.residentRows(List.of(wide, narrow), 90, m);
            float[][][] notShared = train(List.of(narrow, wide), new long[] {3, 4}, labels, 80, others);
            assertArrayEquals(own[1][0], notShared[1][0], 0f);
        }
    }

    @Test
    void trainsTheSameOnABackgroundThread() throws Exception {
        // libtorch records gradients by default on new threads: the lab trains on a background task
        int[] labels = new int[60];
        FeatureStore in = data(60, 5, 9, labels);
        float[][][] here = train(List.of(in), new long[] {1}, labels, 50);
        java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            float[][][] there = ex.submit(() -> train(List.of(in), new long[] {1}, labels, 50)).get();
            assertArrayEquals(here[0][0], there[0][0], 1e-6f);
        } finally {
            ex.shutdownNow();
        }
    }
}
