package org.persephonee.core.backbone;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Finds a Python with PyTorch and torchvision (Debian's python3-torch) and runs the exporter with it. */
public final class TorchPython {
    private static String python;
    private static boolean searched;

    private TorchPython() { }

    /** The exporter script, from a module's folder. */
    public static final Path EXPORTER = Path.of("..", "tools", "export-backbone.py");

    /** A python executable that imports torch and torchvision, or null. */
    public static synchronized String find() {
        if (!searched) {
            searched = true;
            for (String candidate : List.of("/usr/bin/python3", "python3")) {
                try {
                    Result r = run(List.of(candidate, "-c", "import torch, torchvision"), 120);
                    if (r.code == 0) {
                        python = candidate;
                        break;
                    }
                } catch (IOException e) {
                    // not installed: try the next one
                }
            }
        }
        return python;
    }

    /** Why tests that need it are skipped. */
    public static final String MISSING = "python3-torch/python3-torchvision not installed (apt-get install "
            + "python3-torch python3-torchvision; .ci/run does): exporter tests skipped";

    /** Output of a finished process. */
    public record Result(int code, String output) { }

    /** Runs the exporter with the given arguments. */
    public static Result export(List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(find(), EXPORTER.toString()));
        cmd.addAll(args);
        return run(cmd, 600);
    }

    static Result run(List<String> cmd, int timeoutSeconds) throws IOException {
        // output goes to a file so that a hung process cannot block the reader past the timeout
        java.nio.file.Path log = java.nio.file.Files.createTempFile("exporter", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", "2");
        Process p = pb.start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd + " timed out after " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), java.nio.file.Files.readString(log, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        } finally {
            java.nio.file.Files.deleteIfExists(log);
        }
    }
}
