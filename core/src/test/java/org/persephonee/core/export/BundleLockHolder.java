package org.persephonee.core.export;

import java.nio.file.Path;

/** A child JVM for {@link BundleWriterSafetyTest}: locks a bundle target, says so, holds it until stdin closes. */
public final class BundleLockHolder {
    private BundleLockHolder() { }

    public static void main(String[] args) throws Exception {
        try (BundleTarget t = BundleWriter.checkTarget(Path.of(args[0]))) {
            System.out.println("LOCKED " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold the lock until the parent closes our stdin (or kills us)
            }
        }
    }
}
