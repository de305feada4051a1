package org.persephonee.core.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;

/** A forward and backward pass through a tiny CNN: proves the native engine works offline. */
public final class EngineSmoke {
    private EngineSmoke() { }

    /**
     * What the smoke run saw.
     *
     * @param engine engine name and version
     * @param loss cross-entropy of the random batch
     * @param gradientNorm L2 norm of all parameter gradients (non-zero when backward ran)
     * @param seconds wall time including engine start-up
     */
    public record Report(String engine, float loss, double gradientNorm, double seconds) { }

    /** Runs the smoke test with a fixed seed. */
    public static Report run() {
        long t0 = System.nanoTime();
        Engine engine = Engines.pytorch();
        Engines.seed(1);
        SequentialBlock net = new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).optPadding(new Shape(1, 1)).build())
                .add(Activation.reluBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(3).build());
        try (NDManager m = engine.newBaseManager()) {
            net.initialize(m, DataType.FLOAT32, new Shape(2, 1, 8, 8));
            for (Pair<String, Parameter> p : net.getParameters()) {
                p.getValue().getArray().setRequiresGradient(true);
            }
            NDArray x = m.randomNormal(new Shape(2, 1, 8, 8));
            NDArray y = m.create(new float[] {0, 2});
            float loss;
            try (GradientCollector gc = engine.newGradientCollector()) {
                NDArray logits = net.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
                NDArray l = Loss.softmaxCrossEntropyLoss().evaluate(new NDList(y), new NDList(logits));
                loss = l.getFloat();
                gc.backward(l);
            }
            double sq = 0;
            for (Pair<String, Parameter> p : net.getParameters()) {
                NDArray g = p.getValue().getArray().getGradient();
                sq += g.square().sum().getFloat();
            }
            return new Report(engine.getEngineName() + " " + engine.getVersion(), loss, Math.sqrt(sq),
                    (System.nanoTime() - t0) / 1e9);
        }
    }
}
