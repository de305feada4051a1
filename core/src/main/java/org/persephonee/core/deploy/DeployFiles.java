package org.persephonee.core.deploy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.runtime.EarlyExitModel;
import org.persephonee.core.util.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The files an export hands to Python: every weight as safetensors, and images as a NumPy {@code .npy}. */
final class DeployFiles {

    private DeployFiles() { }

    /** Every parameter the module needs, named {@code <block>.<k>.<name>} in DJL's order (see the script). */
    static byte[] weights(EarlyExitModel m) throws IOException {
        Backbone bb = m.backbone();
        try (NDManager nm = bb.manager().newSubManager()) {
            NDList all = new NDList();
            if (bb.source() instanceof BackboneSource.Declarative) {
                for (int i = 0; i < bb.stages().size(); i++) {
                    add(all, nm, "stage." + i, bb.stages().get(i).block());
                }
                add(all, nm, "classifier", bb.classifier());
            }
            List<ExitHead> heads = m.heads();
            for (int j = 0; j < heads.size(); j++) {
                add(all, nm, "exit." + j, heads.get(j).block());
            }
            if (m.finalHead() != null) {
                add(all, nm, "final", m.finalHead().block());
            }
            List<ExitHead> ensemble = m.ensembleHeads();
            for (int k = 0; k < ensemble.size(); k++) {
                add(all, nm, "ensemble." + k, ensemble.get(k).block());
            }
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            all.encode(b, NDList.Encoding.SAFETENSORS);
            return b.toByteArray();
        }
    }

    private static void add(NDList all, NDManager nm, String prefix, Block block) {
        int k = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray a = p.getValue().getArray().duplicate();
            a.attach(nm);
            a.setName(prefix + "." + k + "." + p.getValue().getName());
            all.add(a);
            k++;
        }
    }

    /** {@code n} seeded standard-normal images: inputs no person sends, to compare the layers beyond the data. */
    static List<float[]> noise(InputSpec in, int n, long seed) {
        java.util.Random r = new java.util.Random(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] x = new float[in.size()];
            for (int k = 0; k < x.length; k++) {
                x[k] = (float) r.nextGaussian();
            }
            out.add(x);
        }
        return out;
    }

    /** A NumPy {@code .npy} (version 1.0) of float32 images, shape {@code [n, C, H, W]}. */
    static void writeNpy(Path f, List<float[]> images, InputSpec in) throws IOException {
        String header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + images.size() + ", " + in.channels()
                + ", " + in.height() + ", " + in.width() + "), }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + 4 * images.size() * in.size())
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.US_ASCII));
        for (float[] x : images) {
            for (float v : x) {
                b.putFloat(v);
            }
        }
        AtomicFiles.write(f, b.array());
    }
}
