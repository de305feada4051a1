package org.persephonee.core.export;

import org.persephonee.core.util.FileTrees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.persephonee.core.export.BundleWriter.CONFIG;
import static org.persephonee.core.export.BundleWriter.GSON;

/**
 * A bundle made from some of another bundle's exits ({@link BundleWriter#subset}): reads the source's
 * {@code exit-config.json}, keeps the named exits with new thresholds and figures, and publishes a copy of the files
 * they need (backbone, exit and final weights, re-trained stages, BatchNorm statistics).
 */
final class BundleSubset {
    private BundleSubset() { }

    /** Reads {@code source}'s {@code exit-config.json}; one that does not parse is an {@link IOException}. */
    static ExitConfig readExitConfig(Path source) throws IOException {
        try {
            return org.persephonee.core.util.JsonProblems.fromJson(GSON, Files.readString(source.resolve(CONFIG)),
                    ExitConfig.class);
        } catch (com.google.gson.JsonParseException e) {
            throw new IOException(source.resolve(CONFIG) + ": not a readable exit config (" + e.getMessage() + ")");
        }
    }

    /**
     * Publishes to {@code out} the exits of {@code src} (read from {@code source}) at {@code stages}, in that order,
     * with {@code thresholds} (one each) and {@code expected}; {@code src} is changed to match.
     */
    static Path write(Path source, ExitConfig src, BundleTarget out, List<String> stages, double[] thresholds,
                      ExitConfig.Expected expected) throws IOException {
        if (thresholds.length != stages.size()) {
            throw new IllegalArgumentException(thresholds.length + " thresholds for " + stages.size() + " exits");
        }
        List<ExitConfig.Exit> kept = new java.util.ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            String st = stages.get(i);
            ExitConfig.Exit e = src.exits.stream().filter(x -> x.stage.equals(st)).findFirst()
                    .orElseThrow(() -> new IOException(source + ": has no exit at stage " + st));
            e.threshold = thresholds[i];
            kept.add(e);
        }
        src.exits = kept;
        src.expected = expected;
        return BundlePublisher.publish(out, tmp -> {
            FileTrees.copy(source.resolve(src.backbone.path), tmp.resolve(src.backbone.path));
            for (ExitConfig.Exit e : kept) {
                Files.copy(source.resolve(e.weights), tmp.resolve(e.weights));
            }
            if (src.finalExit.weights != null) {
                Files.copy(source.resolve(src.finalExit.weights), tmp.resolve(src.finalExit.weights));
            }
            if (src.finalExit.ensemble != null) {
                for (ExitConfig.EnsembleHead e : src.finalExit.ensemble) {
                    Files.copy(source.resolve(e.weights), tmp.resolve(e.weights));
                }
            }
            // a final exit with re-trained last stages needs their weights too (the lab's export of a kept run
            // with them named a file it had not copied)
            if (src.finalExit.retrainedWeights != null) {
                Files.copy(source.resolve(src.finalExit.retrainedWeights), tmp.resolve(src.finalExit.retrainedWeights));
            }
            if (src.batchNorm != null && src.batchNorm.adapted) {
                Files.copy(source.resolve(src.batchNorm.file), tmp.resolve(src.batchNorm.file));
            }
            Path resume = source.resolve(org.persephonee.core.personalise.ResumeState.FILE);
            if (Files.isRegularFile(resume)) {
                Files.copy(resume, tmp.resolve(resume.getFileName().toString()));
            }
            BundleWriter.writeConfig(tmp, src);
        });
    }
}
