package org.persephonee.core.runtime;

import com.google.gson.JsonParseException;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneFormatException;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.export.BundleException;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.export.ExitConfig;
import org.persephonee.core.personalise.BnStats;
import org.persephonee.core.util.Hashes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads an exported bundle into an {@link EarlyExitModel}, trusting nothing in it: the config's JSON types and
 * schema, every path kept inside the bundle, the backbone copy's hash, every weights file's SHA-256, the exits'
 * stages and heads, and the re-trained stages' names and order. Anything off is a {@link BundleException} naming
 * the file, and whatever was loaded is closed again.
 */
final class BundleReader {
    private BundleReader() { }

    /**
     * Loads a bundle.
     *
     * @param backboneDir a backbone folder to use instead of the bundle's copy, or null
     * @throws BundleException naming the file when the schema, backbone hash or a weights file does not match
     */
    static EarlyExitModel load(Path bundle, Path backboneDir) throws BundleException {
        Path cfgFile = bundle.resolve(BundleWriter.CONFIG);
        if (!Files.isRegularFile(cfgFile)) {
            throw new BundleException(cfgFile, "not found: not a PersEPhonEE bundle");
        }
        ExitConfig cfg;
        try {
            com.google.gson.JsonElement tree = com.google.gson.JsonParser.parseString(Files.readString(cfgFile));
            checkTypes(tree, cfgFile);
            cfg = org.persephonee.core.util.JsonProblems.fromJson(new com.google.gson.Gson(), tree, ExitConfig.class);
        } catch (IOException | JsonParseException e) {
            throw new BundleException(cfgFile, "cannot be read as an exit config (" + (e instanceof IOException
                    ? e.getMessage() : org.persephonee.core.util.JsonProblems.describe(e)) + ")", e);
        }
        if (cfg == null || !ExitConfig.SCHEMA.equals(cfg.schema)) {
            throw new BundleException(cfgFile, "not a PersEPhonEE exit config (schema '"
                    + (cfg == null ? null : cfg.schema) + "')");
        }
        if (cfg.schemaVersion != ExitConfig.SCHEMA_VERSION) {
            throw new BundleException(cfgFile, "schema version " + cfg.schemaVersion + " is not supported (this "
                    + "build reads " + ExitConfig.SCHEMA_VERSION + ")");
        }
        if (cfg.backbone == null || cfg.backbone.sha256 == null || cfg.labels == null || cfg.labels.size() < 2
                || cfg.labelBackboneIndex == null || cfg.labelBackboneIndex.length != cfg.labels.size()
                || cfg.exits == null || cfg.finalExit == null || cfg.confidence == null) {
            throw new BundleException(cfgFile, "incomplete exit config (backbone, labels, exits or final missing)");
        }
        validate(cfg, cfgFile);
        Path bbDir = backboneDir != null ? backboneDir : inside(bundle, cfg.backbone.path == null ? "backbone"
                : cfg.backbone.path, "backbone path", cfgFile);
        Backbone bb;
        try {
            bb = BackboneIO.load(bbDir);
        } catch (BackboneFormatException e) {
            throw new BundleException(bbDir, "backbone cannot be loaded: " + e.getMessage(), e);
        }
        List<ExitHead> heads = new ArrayList<>();
        List<ExitHead> ensemble = new ArrayList<>();
        ExitHead fin = null;
        org.persephonee.core.personalise.RetrainedStages retrained = null;
        try {
            if (!cfg.backbone.sha256.equalsIgnoreCase(bb.parametersSha256())) {
                throw new BundleException(bbDir, "backbone weights do not match the bundle (SHA-256 "
                        + bb.parametersSha256() + ", the bundle was made for " + cfg.backbone.sha256 + ")");
            }
            if (cfg.batchNorm != null && cfg.batchNorm.adapted) {
                Path f = inside(bundle, cfg.batchNorm.file, "BatchNorm statistics file", cfgFile);
                byte[] data = readChecked(f, cfg.batchNorm.sha256);
                try {
                    BnStats.restore(bb, BnStats.fromBytes(data));
                } catch (IOException | IllegalArgumentException e) {
                    throw new BundleException(f, "BatchNorm statistics do not fit the backbone (" + e.getMessage() + ")");
                }
            }
            for (int k = 0; k < cfg.labelBackboneIndex.length; k++) {
                int idx = cfg.labelBackboneIndex[k];
                if (idx < -1 || idx >= bb.classNames().size()) {
                    throw new BundleException(cfgFile, "label '" + cfg.labels.get(k) + "' points at backbone class "
                            + idx + ", but the backbone has " + bb.classNames().size() + " classes");
                }
            }
            int prev = -1;
            for (ExitConfig.Exit e : cfg.exits) {
                Stage st = bb.stage(e.stage);
                if (st == null || st.index() <= prev) {
                    throw new BundleException(cfgFile, "exit at stage '" + e.stage + "' is unknown or out of order");
                }
                prev = st.index();
                ExitHead h = new ExitHead(new ExitPlacement(e.stage, spec(e.head, cfgFile)), st.outputShape(),
                        cfg.labels.size());
                heads.add(h);
                loadHead(h, inside(bundle, e.weights, "weights of the exit at " + e.stage, cfgFile), e.sha256);
            }
            if ("refit".equals(cfg.finalExit.kind)) {
                Stage st = bb.stage(cfg.finalExit.stage);
                if (st == null) {
                    throw new BundleException(cfgFile, "final exit stage '" + cfg.finalExit.stage + "' is unknown");
                }
                fin = new ExitHead(new ExitPlacement(st.name(), spec(cfg.finalExit.head, cfgFile)), st.outputShape(),
                        cfg.labels.size());
                loadHead(fin, inside(bundle, cfg.finalExit.weights, "final exit weights", cfgFile),
                        cfg.finalExit.sha256);
                if (cfg.finalExit.retrainedStages != null && !cfg.finalExit.retrainedStages.isEmpty()) {
                    retrained = loadRetrained(bundle, cfg, bb, heads, cfgFile);
                }
            }
            int prevMember = -1;
            for (ExitConfig.EnsembleHead e : cfg.finalExit.ensemble == null ? List.<ExitConfig.EnsembleHead>of()
                    : cfg.finalExit.ensemble) {
                Stage st = e == null ? null : bb.stage(e.stage);
                if (st == null || st.index() <= prevMember) {
                    throw new BundleException(cfgFile, "final exit ensemble head at stage '"
                            + (e == null ? null : e.stage) + "' is unknown or out of order");
                }
                if (retrained != null && st.index() >= bb.stages().size() - retrained.stages().size()) {
                    throw new BundleException(cfgFile, "final exit ensemble head at stage '" + e.stage
                            + "' sits on a re-trained stage");
                }
                prevMember = st.index();
                ExitHead h = new ExitHead(new ExitPlacement(e.stage, spec(e.head, cfgFile)), st.outputShape(),
                        cfg.labels.size());
                ensemble.add(h);
                loadHead(h, inside(bundle, e.weights, "weights of the final exit's ensemble head at " + e.stage,
                        cfgFile), e.sha256);
            }
            return new EarlyExitModel(cfg, bb, heads, fin, retrained, ensemble);
        } catch (BundleException | RuntimeException e) {
            heads.forEach(ExitHead::close);
            ensemble.forEach(ExitHead::close);
            if (fin != null) {
                fin.close();
            }
            if (retrained != null) {
                retrained.close();
            }
            bb.close();
            if (e instanceof RuntimeException re) {
                throw new BundleException(cfgFile, "cannot be used (" + re.getMessage() + ")", re);
            }
            throw (BundleException) e;
        }
    }

    /** The re-trained copy of the backbone's last stages the final exit runs; checks names, order and exits. */
    private static org.persephonee.core.personalise.RetrainedStages loadRetrained(Path bundle, ExitConfig cfg, Backbone bb,
            List<ExitHead> heads, Path cfgFile) throws BundleException {
        List<String> names = cfg.finalExit.retrainedStages;
        int n = names.size();
        int total = bb.stages().size();
        if (n >= total || bb.isTorchScript()) {
            throw new BundleException(cfgFile, "re-trained stages " + names + " do not fit backbone " + bb.id());
        }
        for (int j = 0; j < n; j++) {
            if (!bb.stages().get(total - n + j).name().equals(names.get(j))) {
                throw new BundleException(cfgFile, "re-trained stages " + names + " are not the backbone's last "
                        + n + " stages");
            }
        }
        for (ExitHead h : heads) {
            if (bb.stage(h.stage()).index() >= total - n) {
                throw new BundleException(cfgFile, "the exit at " + h.stage() + " sits on a re-trained stage");
            }
        }
        Path f = inside(bundle, cfg.finalExit.retrainedWeights, "re-trained stage weights", cfgFile);
        byte[] data = readChecked(f, cfg.finalExit.retrainedSha256);
        try {
            return org.persephonee.core.personalise.RetrainedStages.load(bb, n, data);
        } catch (IOException | ai.djl.MalformedModelException | IllegalArgumentException e) {
            throw new BundleException(f, "weights do not fit the re-trained stages (" + e.getMessage() + ")", e);
        }
    }

    private static HeadSpec spec(ExitConfig.Head h, Path cfgFile) throws BundleException {
        if (h == null || h.type == null) {
            throw new BundleException(cfgFile, "an exit has no head description");
        }
        try {
            return new HeadSpec(HeadType.parse(h.type), h.channels, h.convLayers, h.hidden);
        } catch (IllegalArgumentException e) {
            throw new BundleException(cfgFile, e.getMessage());
        }
    }

    private static byte[] readChecked(Path f, String sha) throws BundleException {
        if (!Files.isRegularFile(f)) {
            throw new BundleException(f, "not found");
        }
        try {
            byte[] data = Files.readAllBytes(f);
            if (sha != null && !sha.equalsIgnoreCase(Hashes.sha256(data))) {
                throw new BundleException(f, "SHA-256 does not match exit-config.json (file changed or truncated)");
            }
            return data;
        } catch (IOException e) {
            throw new BundleException(f, "cannot be read (" + e.getMessage() + ")", e);
        }
    }

    private static void loadHead(ExitHead h, Path f, String sha) throws BundleException {
        byte[] data = readChecked(f, sha);
        try {
            h.loadWeights(data);
        } catch (IOException | ai.djl.MalformedModelException e) {
            throw new BundleException(f, "weights do not fit the head (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Resolves a path the config gives relative to the bundle, refusing one that is missing, absolute or leads
     * out of the bundle folder (by {@code ..} or through a symbolic link): a bundle only reads its own files.
     */
    static Path inside(Path bundle, String rel, String what, Path cfgFile) throws BundleException {
        if (rel == null || rel.isBlank()) {
            throw new BundleException(cfgFile, what + " is missing");
        }
        Path base = bundle.toAbsolutePath().normalize();
        Path given = Path.of(rel);
        Path p = base.resolve(given).normalize();
        if (given.isAbsolute() || !p.startsWith(base) || p.equals(base)) {
            throw new BundleException(cfgFile, what + " '" + rel + "' is outside the bundle folder; a bundle "
                    + "names only its own files, relative to it");
        }
        try {
            if (Files.exists(p) && !p.toRealPath().startsWith(base.toRealPath())) {
                throw new BundleException(cfgFile, what + " '" + rel + "' leads outside the bundle folder through a "
                        + "symbolic link (to " + p.toRealPath() + ")");
            }
        } catch (IOException e) {
            throw new BundleException(p, "cannot be read (" + e.getMessage() + ")", e);
        }
        return p;
    }

    /** Refuses values of the wrong JSON type with the field named, before Gson turns them into its own error. */
    private static void checkTypes(com.google.gson.JsonElement tree, Path cfgFile) throws BundleException {
        if (!tree.isJsonObject()) {
            throw new BundleException(cfgFile, "not a PersEPhonEE exit config (not a JSON object)");
        }
        com.google.gson.JsonElement exits = tree.getAsJsonObject().get("exits");
        if (exits == null || !exits.isJsonArray()) {
            return;
        }
        for (int i = 0; i < exits.getAsJsonArray().size(); i++) {
            com.google.gson.JsonElement e = exits.getAsJsonArray().get(i);
            if (!e.isJsonObject()) {
                throw new BundleException(cfgFile, "exits[" + i + "] is not an object");
            }
            com.google.gson.JsonElement t = e.getAsJsonObject().get("threshold");
            com.google.gson.JsonElement st = e.getAsJsonObject().get("stage");
            String stage = st != null && st.isJsonPrimitive() ? st.getAsString() : "#" + i;
            if (t == null || !t.isJsonPrimitive() || !isNumber(t.getAsJsonPrimitive())) {
                throw new BundleException(cfgFile, "exit at stage '" + stage + "' has threshold "
                        + (t == null ? "missing" : t.toString()) + "; a threshold is a number >= 0 "
                        + "(above 1 turns the exit off)");
            }
        }
    }

    private static boolean isNumber(com.google.gson.JsonPrimitive p) {
        if (p.isNumber()) {
            return true;
        }
        // Gson writes NaN and Infinity as bare words; they are numbers here and refused by validate
        return p.isString() && List.of("NaN", "Infinity", "-Infinity").contains(p.getAsString());
    }

    private static void validate(ExitConfig cfg, Path cfgFile) throws BundleException {
        for (ExitConfig.Exit e : cfg.exits) {
            if (e == null || !Double.isFinite(e.threshold) || e.threshold < 0) {
                throw new BundleException(cfgFile, "exit at stage '" + (e == null ? null : e.stage)
                        + "' has threshold " + (e == null ? null : e.threshold) + "; a threshold is a number >= 0 "
                        + "(above 1 turns the exit off)");
            }
        }
        if (!"refit".equals(cfg.finalExit.kind) && !"backbone".equals(cfg.finalExit.kind)) {
            throw new BundleException(cfgFile, "final exit kind '" + cfg.finalExit.kind
                    + "' is unknown (expected 'refit' or 'backbone')");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String l : cfg.labels) {
            if (l == null || !seen.add(l)) {
                throw new BundleException(cfgFile, "label '" + l + "' is listed twice (or empty)");
            }
        }
    }
}
