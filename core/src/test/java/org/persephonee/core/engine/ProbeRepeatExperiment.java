package org.persephonee.core.engine;

/**
 * Measurement, not a test: the self-check probe repeated in one process under the cap the guard chose, with its
 * weight differences measured against each weight (the old criterion) and against its tensor's scale. Args: runs.
 */
public final class ProbeRepeatExperiment {
    public static void main(String[] a) {
        int n = Integer.parseInt(a[0]);
        for (int r = 0; r < n; r++) {
            EngineProbe.Outcome o = EngineProbe.run();
            System.out.printf("run %2d: passed %s, tensor-scaled %.2e%n", r, o.passed(),
                    o.maxRelDiff());
        }
    }
}
