package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cross-fitting's folds train side by side in one batched step: each must learn what it would alone. */
class ExitTrainerLanesTest {
    @TempDir
    static Path tmp;

    @Test
    void foldsTrainedSideBySideLearnExactlyWhatEachLearnsAlone() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 8, 30, 5, 3);
        // a conv head (its own trainer per lane) and a linear head (batched across lanes)
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.parse("0.5")).build();
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PreparedData data = prepare(bb, persona, cfg);
            try (FeatureCache cache = new FrozenPass(bb, cfg).run(data, null, null, PersonalisationJob.SILENT,
                    () -> false)) {
                int n = data.trainSize();
                float[][] logits = HeadOutputs.rows(cache.logits(), 0, n);
                PersonalLabelSpace space = space(bb, cfg, data, logits);
                float[][] teacher = new float[n][];
                for (int i = 0; i < n; i++) {
                    teacher[i] = HeadOutputs.logProbs(space, logits[i]);
                }
                Targets all = Targets.build(data, space, teacher, cfg);
                // folds of different sizes: different steps per epoch, epochs and learning-rate schedules, and a
                // last batch of another size (padded in the batched step)
                boolean[] heldA = new boolean[n];
                boolean[] heldB = new boolean[n];
                for (int i = 0; i < n; i++) {
                    heldA[i] = i % 4 == 0;
                    heldB[i] = i % 3 != 0;
                }
                List<Targets> fold = List.of(all.without(heldA), all.without(heldB));
                assertTrue(fold.get(0).used() > 2 * fold.get(1).used(), "the folds differ in size");
                ExitTrainer trainer = new ExitTrainer(cfg, bb);
                int[] split = {cfg.epochs()};
                List<List<ExitHead>> together = List.of(heads(cfg, bb, space), heads(cfg, bb, space));
                List<List<Integer>> epochsTogether = List.of(new ArrayList<>(), new ArrayList<>());
                List<ExitTrainer.Lane> lanes = new ArrayList<>();
                for (int f = 0; f < 2; f++) {
                    List<Integer> seen = epochsTogether.get(f);
                    lanes.add(trainer.lane(together.get(f), fold.get(f), split, 0, (e, l) -> seen.add(e)));
                }
                trainer.fit(lanes, space, cache, false, () -> false, (d, t, s) -> { });
                for (int f = 0; f < 2; f++) {
                    List<ExitHead> alone = heads(cfg, bb, space);
                    List<Integer> seen = new ArrayList<>();
                    trainer.fit(List.of(trainer.lane(alone, fold.get(f), split, 0, (e, l) -> seen.add(e))), space,
                            cache, false, () -> false, (d, t, s) -> { });
                    assertEquals(seen, epochsTogether.get(f), "fold " + f + " reports the same epochs");
                    for (int h = 0; h < alone.size(); h++) {
                        ExitHead a = alone.get(h);
                        ExitHead b = together.get(f).get(h);
                        float[][] pa = HeadOutputs.probabilities(a, trainer.input(a, cache), 0, n, () -> false);
                        float[][] pb = HeadOutputs.probabilities(b, trainer.input(b, cache), 0, n, () -> false);
                        for (int i = 0; i < n; i++) {
                            assertArrayEquals(pa[i], pb[i], 1e-5f, "fold " + f + ", " + a.key() + ", image " + i);
                        }
                    }
                    alone.forEach(ExitHead::close);
                }
                // and the two folds did learn different things
                ExitHead a = together.get(0).get(1);
                ExitHead b = together.get(1).get(1);
                float[] wa = a.linear()[0];
                float[] wb = b.linear()[0];
                double diff = 0;
                for (int i = 0; i < wa.length; i++) {
                    diff += Math.abs(wa[i] - wb[i]);
                }
                assertTrue(diff > 1e-2, "the lanes trained apart: " + diff);
                together.forEach(l -> l.forEach(ExitHead::close));
            }
        }
    }

    @Test
    void theCrossFittingLearnsTheSameOnOneThreadAsOnTwo() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("q"), new int[] {0, 1, 2}, 8, 30, 5, 4);
        // pooling + linear heads only: those are the folds trained on several threads
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.parse("0.5"))
                .setPlacements(List.of(new ExitPlacement("stem", org.persephonee.core.exits.HeadSpec.parse("grid")),
                        new ExitPlacement("block1", org.persephonee.core.exits.HeadSpec.parse("linear")))).build();
        onTwoThreads(persona, cfg, (bb, data, last, cache, logits, space) -> {
            int n = data.trainSize();
            List<ExitPlacement> ordered = cfg.placements();
            EvalPredictions[] oof = new EvalPredictions[2];
            for (int w = 1; w <= 2; w++) {
                oof[w - 1] = new CrossFit(cfg, bb, new ExitTrainer(cfg, bb)).maxWorkers(w).run(data, space, cache,
                        last, 0, ordered, logits, new float[1][][], null, PersonalisationJob.SILENT, () -> false);
                assertEquals(2, org.persephonee.core.engine.Engines.setThreads(2), "the run's threads come back");
            }
            // a non-finite step on either thread stops the validation with that error, not with the cancel
            // it causes on the other thread
            for (int round = 0; round < 3; round++) {
                org.persephonee.core.engine.NumericGuard.injectAt(org.persephonee.core.engine.NumericGuard.HEADS,
                        5 + round, 1);
                try {
                    var e = assertThrows(org.persephonee.core.engine.NumericGuard.NonFiniteException.class,
                            () -> new CrossFit(cfg, bb, new ExitTrainer(cfg, bb)).maxWorkers(2).run(data, space,
                                    cache, last, 0, ordered, logits, new float[1][][], null,
                                    PersonalisationJob.SILENT, () -> false));
                    assertEquals(5 + round, e.step());
                } finally {
                    org.persephonee.core.engine.NumericGuard.injectAt(null, -1);
                }
            }
            for (int j = 0; j <= ordered.size(); j++) {
                float[][] a = j < ordered.size() ? oof[0].exit(j) : oof[0].finalExit();
                float[][] b = j < ordered.size() ? oof[1].exit(j) : oof[1].finalExit();
                for (int i = 0; i < n; i++) {
                    assertArrayEquals(a[i], b[i], 0f, "head " + j + ", image " + i);
                }
            }
        });
    }

    @Test
    void theRefitCheckDecidesTheSameOnOneThreadAsOnTwo() throws Exception {
        // its copies of the final head train on the run's engine threads, as the folds do (session 36: the check took
        // 0.9 s on one thread on the MobileNetV2 stage bundle, half of that on two)
        Path persona = Fixtures.persona(tmp.resolve("r"), new int[] {0, 1, 2}, 8, 30, 5, 4);
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.parse("0.5")).build();
        onTwoThreads(persona, cfg, (bb, data, last, cache, logits, space) -> {
            String[] reasons = new String[2];
            float[][][] means = new float[2][][];
            for (int t = 1; t <= 2; t++) {
                org.persephonee.core.engine.Engines.setThreads(t);
                RefitDecision.Outcome o = RefitDecision.decide(bb, cfg, new ExitTrainer(cfg, bb), cache, data,
                        space, logits, last, null, PersonalisationJob.SILENT, () -> false);
                assertEquals(t, org.persephonee.core.engine.Engines.setThreads(t), "the run's threads come back");
                try (RefitDecision.Folds folds = o.folds()) {
                    reasons[t - 1] = o.reason();
                    means[t - 1] = folds.mean();
                }
            }
            assertTrue(reasons[0].contains("out of fold"), reasons[0]);
            assertEquals(reasons[0], reasons[1]);
            assertArrayEquals(means[0][0], means[1][0], 0f, "the folds' final heads, weights");
            assertArrayEquals(means[0][1], means[1][1], 0f, "the folds' final heads, bias");
        });
    }

    /** What a cross-fitting works on: the frozen pass over the training photos and the label space they give. */
    private interface OnCache {
        void run(Backbone bb, PreparedData data, String last, FeatureCache cache, float[][] logits,
                 PersonalLabelSpace space) throws Exception;
    }

    /** Runs {@code body} on the persona's frozen pass, with the engine on two threads (the run's threads after). */
    private static void onTwoThreads(Path persona, PersonalisationConfig cfg, OnCache body) throws Exception {
        int threads = org.persephonee.core.engine.Engines.setThreads(2);
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PreparedData data = prepare(bb, persona, cfg);
            String last = bb.stages().get(bb.stages().size() - 1).name();
            try (FeatureCache cache = new FrozenPass(bb, cfg).run(data, last, null, PersonalisationJob.SILENT,
                    () -> false)) {
                float[][] logits = HeadOutputs.rows(cache.logits(), 0, data.trainSize());
                body.run(bb, data, last, cache, logits, space(bb, cfg, data, logits));
            }
        } finally {
            org.persephonee.core.engine.Engines.setThreads(threads);
        }
    }

    @Test
    void cancellingWhileFoldsTrainOnTwoThreadsStopsWithinOneSecondAndGivesTheThreadsBack() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("c"), new int[] {0, 1, 2}, 8, 30, 5, 5);
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.parse("0.5")).optEpochs(400)
                .setPlacements(List.of(new ExitPlacement("stem", org.persephonee.core.exits.HeadSpec.parse("grid")),
                        new ExitPlacement("block1", org.persephonee.core.exits.HeadSpec.parse("grid")))).build();
        boolean adaptive = org.persephonee.core.engine.Engines.adaptiveThreads();
        // every core, whatever else the machine runs: the folds then train on two threads
        org.persephonee.core.engine.Engines.setAdaptiveThreads(false);
        int threads = org.persephonee.core.engine.Engines.setThreads(2);
        java.util.concurrent.atomic.AtomicBoolean cancel = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong cancelledAt = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicInteger threadsWhileValidating = new java.util.concurrent.atomic.AtomicInteger();
        PersonalisationJob.Listener l = new PersonalisationJob.Listener() {
            @Override
            public void onProgress(PersonalisationJob.Phase phase, double fraction, double eta) {
                if (phase == PersonalisationJob.Phase.VALIDATE && fraction > 0.3 && !cancel.get()) {
                    threadsWhileValidating.set((int) Thread.getAllStackTraces().keySet().stream()
                            .filter(t -> t.getName().equals("persephonee-cross-fit")).count());
                    cancelledAt.set(System.nanoTime());
                    cancel.set(true);
                }
            }
        };
        java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            java.util.concurrent.Future<PersonalisationResult> f = ex.submit(() ->
                    new PersonalisationJob(bb, ds, cfg).run(l, cancel::get));
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> f.get(120, java.util.concurrent.TimeUnit.SECONDS));
            double took = (System.nanoTime() - cancelledAt.get()) / 1e9;
            assertTrue(e.getCause() instanceof java.util.concurrent.CancellationException, String.valueOf(e.getCause()));
            assertEquals(1, threadsWhileValidating.get(), "a second thread trained folds");
            assertTrue(took < 1.0, "took " + took + " s");
            assertEquals(2, org.persephonee.core.engine.Engines.setThreads(2), "the engine threads come back");
            Thread.sleep(200);
            assertEquals(0, Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive()
                    && t.getName().equals("persephonee-cross-fit")).count(), "no fold thread left running");
        } finally {
            ex.shutdownNow();
            org.persephonee.core.engine.Engines.setThreads(threads);
            org.persephonee.core.engine.Engines.setAdaptiveThreads(adaptive);
        }
    }

    private static PreparedData prepare(Backbone bb, Path persona, PersonalisationConfig cfg) throws Exception {
        return PreparedData.prepare(Fixtures.load(bb, persona), bb.input(), cfg.labels(), cfg.holdoutFraction(),
                cfg.seed(), PersonalisationJob.SILENT, () -> false);
    }

    private static PersonalLabelSpace space(Backbone bb, PersonalisationConfig cfg, PreparedData data,
                                            float[][] logits) throws Exception {
        return PersonalLabelSpace.infer(bb.classNames(), data.trainLabel, logits, cfg.unlabelledRule(),
                cfg.pseudoLabelThreshold());
    }

    private static List<ExitHead> heads(PersonalisationConfig cfg, Backbone bb, PersonalLabelSpace space) {
        List<ExitHead> out = new ArrayList<>();
        for (ExitPlacement p : cfg.placements()) {
            out.add(new ExitHead(p, bb.stage(p.stage()).outputShape(), space.size()));
        }
        return out;
    }
}
