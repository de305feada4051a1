package org.persephonee.core.deploy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.backbone.StageBundleSpec;
import org.persephonee.core.backbone.StageSpec;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.export.ExitConfig;
import org.persephonee.core.runtime.EarlyExitModel;

import java.nio.file.Path;
import java.util.List;

/** {@code deploy.json}: what a runtime outside Java needs to know of an exported bundle, read off the bundle. */
final class DeployJson {
    private static final com.google.gson.Gson GSON = TorchScriptExport.GSON;

    private DeployJson() { }

    /** {@code deploy.json}: input, labels, confidence, backbone, exits with thresholds, final exit, provenance. */
    static JsonObject of(Path bundle, EarlyExitModel m) {
        ExitConfig cfg = m.config();
        Backbone bb = m.backbone();
        JsonObject d = new JsonObject();
        d.addProperty("format", "persephonee-deploy");
        d.addProperty("version", 1);
        InputSpec in = bb.input();
        JsonObject input = new JsonObject();
        input.addProperty("channels", in.channels());
        input.addProperty("height", in.height());
        input.addProperty("width", in.width());
        input.add("mean", GSON.toJsonTree(in.mean()));
        input.add("std", GSON.toJsonTree(in.std()));
        input.addProperty("resize", in.resize().id());
        input.addProperty("resize_to", in.resizeTo());
        input.addProperty("preprocessing", "decode to the input's channels (greyscale: stored values), resize to "
                + in.height() + "x" + in.width() + " (" + (in.resize() == InputSpec.Resize.PAD
                ? "scale to fit, pad with the border colour" : "shorter side to " + in.resizeTo() + ", centre crop")
                + "), scale to 0..1, subtract mean, divide by std; NCHW float32 (tools/run-deployed.py does this)");
        d.add("input", input);
        d.add("labels", GSON.toJsonTree(m.labels()));
        d.add("label_backbone_index", GSON.toJsonTree(cfg.labelBackboneIndex));
        d.addProperty("confidence", m.confidence() == Confidence.ENTROPY ? "entropy" : "max_softmax");
        JsonObject backbone = new JsonObject();
        JsonArray stages = new JsonArray();
        if (bb.source() instanceof BackboneSource.Declarative dec) {
            backbone.addProperty("format", "declarative");
            for (StageSpec s : dec.spec().stages) {
                JsonObject o = new JsonObject();
                o.addProperty("name", s.name());
                o.add("layers", GSON.toJsonTree(s.layers()));
                stages.add(o);
            }
            backbone.add("classifier", GSON.toJsonTree(dec.spec().classifier));
        } else if (bb.source() instanceof BackboneSource.TorchScriptStages ts) {
            backbone.addProperty("format", "torchscript-stages");
            String dir = cfg.backbone.path == null ? "backbone" : cfg.backbone.path;
            for (StageBundleSpec.Entry e : ts.bundle().stages) {
                JsonObject o = new JsonObject();
                o.addProperty("name", e.name);
                o.addProperty("file", dir + "/" + e.file);
                stages.add(o);
            }
            JsonObject c = new JsonObject();
            c.addProperty("file", dir + "/" + ts.bundle().classifier.file);
            backbone.add("classifier", c);
        }
        backbone.add("stages", stages);
        d.add("backbone", backbone);
        JsonArray exits = new JsonArray();
        double[] th = m.thresholds();
        List<ExitHead> heads = m.heads();
        for (int j = 0; j < heads.size(); j++) {
            ExitHead h = heads.get(j);
            JsonObject o = new JsonObject();
            o.addProperty("stage", h.stage());
            o.addProperty("stage_index", bb.stage(h.stage()).index());
            o.addProperty("head", h.head().id());
            o.addProperty("threshold", th[j]);
            o.add("layers", GSON.toJsonTree(h.layers()));
            exits.add(o);
        }
        d.add("exits", exits);
        JsonObject fin = new JsonObject();
        ExitHead f = m.finalHead();
        fin.addProperty("kind", f == null ? "backbone" : "refit");
        fin.addProperty("stage", bb.stages().get(bb.stages().size() - 1).name());
        if (f != null) {
            fin.add("layers", GSON.toJsonTree(f.layers()));
        }
        // heads whose probabilities are averaged with the final exit's (the final exit's first, then these in order)
        JsonArray ensemble = new JsonArray();
        for (ExitHead h : m.ensembleHeads()) {
            JsonObject o = new JsonObject();
            o.addProperty("stage", h.stage());
            o.addProperty("stage_index", bb.stage(h.stage()).index());
            o.addProperty("head", h.head().id());
            o.add("layers", GSON.toJsonTree(h.layers()));
            ensemble.add(o);
        }
        fin.add("ensemble", ensemble);
        d.add("final", fin);
        if (cfg.expected != null) {
            d.add("expected", GSON.toJsonTree(cfg.expected));
        }
        JsonObject prov = cfg.provenance == null ? new JsonObject() : cfg.provenance.deepCopy();
        prov.addProperty("bundle", bundle.toAbsolutePath().toString());
        d.add("provenance", prov);
        return d;
    }
}
