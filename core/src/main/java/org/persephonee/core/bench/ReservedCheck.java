package org.persephonee.core.bench;

import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.runtime.EarlyExitModel;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The independent check: an exported bundle run image by image on images rendered from the reserved test images. */
final class ReservedCheck {
    private ReservedCheck() { }

    /**
     * Runs a bundle image by image on an independent labelled set: the cascade at its exported thresholds,
     * then the personalised final exit alone (thresholds above 1); accuracy and measured milliseconds.
     */
    static Map<String, Object> run(Path bundle, Path data) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        try (EarlyExitModel model = EarlyExitModel.load(bundle)) {
            List<PersonalImage> images = new ImageImporter(new LabelSpace(model.backbone().classNames()), null)
                    .importFolder(data, null, () -> false).dataset().test();
            double[] thresholds = model.thresholds();
            double[] cascade = run(model, images);
            model.setThresholds(org.persephonee.core.eval.ThresholdSweep.OFF);
            double[] fin = run(model, images);
            m.put("images", images.size());
            m.put("cascade_accuracy", cascade[0]);
            m.put("cascade_median_ms", cascade[1]);
            m.put("final_accuracy", fin[0]);
            m.put("final_median_ms", fin[1]);
            m.put("measured_speedup", fin[1] / cascade[1]);
            m.put("thresholds", thresholds);
        }
        return m;
    }

    /** Accuracy and median milliseconds per image (after a short warm-up), on one thread like the latency profile. */
    private static double[] run(EarlyExitModel model, List<PersonalImage> images) throws Exception {
        int threads = org.persephonee.core.engine.Engines.setThreads(1);
        try {
            return runTimed(model, images);
        } finally {
            org.persephonee.core.engine.Engines.setThreads(threads);
        }
    }

    private static double[] runTimed(EarlyExitModel model, List<PersonalImage> images) throws Exception {
        for (int i = 0; i < Math.min(10, images.size()); i++) {
            model.classify(images.get(i).path());
        }
        double[] ms = new double[images.size()];
        int ok = 0;
        for (int i = 0; i < images.size(); i++) {
            EarlyExitModel.Prediction p = model.classify(images.get(i).path());
            ms[i] = p.millis();
            if (p.label().equals(images.get(i).label())) {
                ok++;
            }
        }
        java.util.Arrays.sort(ms);
        return new double[] {ok / (double) images.size(), ms[ms.length / 2]};
    }
}
