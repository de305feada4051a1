package org.persephonee.core.deploy;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.runtime.EarlyExitModel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The exported module run by DJL's own libtorch, the runtime {@link EarlyExitModel} runs in: {@code forward},
 * {@code all_exits} and {@code all_logits} on every parity image, compared with {@link EarlyExitModel} with logits as
 * they are (no allowance for another PyTorch build's rounding). This is the module a phone's PyTorch 2.x loads,
 * checked in a PyTorch 2.x; the exporter script's own run (the system's PyTorch, possibly older) is compared apart.
 */
final class LibtorchRun {

    private LibtorchRun() { }

    /** The libtorch version DJL runs here (for deploy.json). */
    static String version() {
        return Engine.getEngine("PyTorch").getVersion();
    }

    /** Runs {@code modelPt} on {@code images} in DJL's libtorch and compares with {@code m}. */
    static TorchScriptExport.Result compare(EarlyExitModel m, List<float[]> images, Path modelPt) throws IOException {
        org.persephonee.core.engine.Engines.pytorch();
        String source = modelPt + " in DJL's libtorch " + version();
        try (PtNDManager manager = (PtNDManager) NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            PtSymbolBlock module;
            try {
                module = JniUtils.loadModule(manager, modelPt, true, new String[0], new String[0], false);
            } catch (RuntimeException e) {
                throw new IOException(modelPt + ": DJL's libtorch " + version() + " cannot load the exported module ("
                        + BackboneIO.libtorchMessage(e) + ")", e);
            }
            try {
                JsonArray rows = new JsonArray();
                for (float[] x : images) {
                    try (PtNDManager sub = (PtNDManager) manager.newSubManager()) {
                        rows.add(row(module, sub, (PtNDArray) sub.create(x, m.backbone().batchShape(1))));
                    }
                }
                return Parity.compare(m, images, rows, source, true);
            } catch (RuntimeException e) {
                throw new IOException(source + ": the module failed on a parity image ("
                        + BackboneIO.libtorchMessage(e) + ")", e);
            } finally {
                module.close();
            }
        }
    }

    /** One image's decision, every exit's probabilities and logits, as the exporter script writes them. */
    private static JsonObject row(PtSymbolBlock module, PtNDManager sub, PtNDArray x) {
        JsonObject r = new JsonObject();
        try (IValue input = IValue.from(x)) {
            try (IValue out = IValueUtils.runMethod(module, "forward", input)) {
                IValue[] t = out.toIValueTuple();
                try {
                    r.addProperty("label", t[0].toLong());
                    r.addProperty("exit", t[2].toLong());
                } finally {
                    for (IValue v : t) {
                        v.close();
                    }
                }
            }
            r.add("probs", rows(module, "all_exits", input, sub));
            r.add("logits", rows(module, "all_logits", input, sub));
        }
        return r;
    }

    private static JsonArray rows(PtSymbolBlock module, String method, IValue input, PtNDManager sub) {
        JsonArray a = new JsonArray();
        try (IValue out = IValueUtils.runMethod(module, method, input)) {
            for (PtNDArray t : out.toTensorArray(sub)) {
                JsonArray row = new JsonArray();
                for (float v : t.toFloatArray()) {
                    row.add(v);
                }
                a.add(row);
            }
        }
        return a;
    }
}
