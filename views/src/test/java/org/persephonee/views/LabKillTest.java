package org.persephonee.views;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A lab killed with SIGKILL (kill -9) right after a person reviewed three photos loses nothing: a restarted lab brings
 * back the reviewed labels, the exits and the last run, and its next run takes every photo's frozen features from the
 * workspace's feature cache (the backbone runs on none of them). Each lab is its own JVM ({@link KillScenario}).
 */
class LabKillTest {

    @Test
    @org.junit.jupiter.api.Timeout(value = 600, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void reviewedLabelsAndTheFeatureCacheSurviveAKill() throws Exception {
        Path tmp = Files.createTempDirectory("lab-kill");
        Path persona = tmp.resolve("persona");
        LabUiTest.copySample(LabUiTest.REPO.resolve("sample-data/night-owl"), persona, 0, 4, 40);
        Path ws = tmp.resolve("workspace");

        Process work = child("work", ws, persona);
        try {
            killedAndRestarted(work, ws, persona);
        } finally {
            work.destroyForcibly();
        }
    }

    private void killedAndRestarted(Process work, Path ws, Path persona) throws Exception {
        List<String> out = new ArrayList<>();
        String ready = readUntil(work, "READY", out);
        assertTrue(ready != null, "the first lab never got ready: " + out);
        assertTrue(number(ready, "memo_files") > 0, "the run wrote the feature cache: " + ready);
        work.destroyForcibly(); // SIGKILL: no shutdown hook, no orderly save
        assertTrue(work.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, work.exitValue(), "killed by SIGKILL");

        Process check = child("check", ws, persona);
        try {
            restarted(check);
        } finally {
            check.destroyForcibly();
        }
    }

    private void restarted(Process check) throws Exception {
        List<String> out2 = new ArrayList<>();
        String restored = readUntil(check, "RESTORED", out2);
        assertTrue(restored != null, "the restarted lab did not restore: " + out2);
        assertEquals(3, number(restored, "reviewed"), "the reviewed labels came back: " + restored);
        assertEquals(2, number(restored, "exits"), restored);
        assertEquals(1, number(restored, "review_points"), "the Review tab's accuracy chart shows the kept run: "
                + restored);
        String rerun = readUntil(check, "RERUN", out2);
        assertTrue(rerun != null, "the restarted lab's run did not finish: " + out2);
        assertTrue(check.waitFor(60, TimeUnit.SECONDS));
        assertEquals(3, number(rerun, "labels"), "the next run learns from the three reviewed labels: " + rerun);
        assertTrue(number(rerun, "photos") > 0, rerun);
        assertEquals(0, number(rerun, "backbone_ran_on"), "every photo's features came from the cache: " + out2);
    }

    private static Process child(String mode, Path ws, Path persona) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-XX:TieredStopAtLevel=1", "-Dprism.order=sw",
                "-Dprism.text=t2k", "-Dglass.platform=Monocle", "-Dmonocle.platform=Headless",
                "-Dheadless.geometry=1600x1000-32", "-Djava.awt.headless=true", "-Dai.djl.offline=true",
                "-DOPT_OUT_TRACKING=true"));
        for (String p : List.of("persephonee.engine.cache")) {
            if (System.getProperty(p) != null) {
                cmd.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        cmd.addAll(List.of(KillScenario.class.getName(), mode, ws.toString(), persona.toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** Reads the child's output until a line starting with {@code prefix} (returned), or the end (null). */
    private static String readUntil(Process p, String prefix, List<String> seen) throws IOException {
        BufferedReader r = reader(p);
        String line;
        while ((line = r.readLine()) != null) {
            seen.add(line);
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        return null;
    }

    private static final java.util.Map<Process, BufferedReader> READERS = new java.util.HashMap<>();

    private static BufferedReader reader(Process p) {
        return READERS.computeIfAbsent(p, k -> new BufferedReader(new InputStreamReader(k.getInputStream(),
                StandardCharsets.UTF_8)));
    }

    private static long number(String line, String key) {
        Matcher m = Pattern.compile(key + "=(-?\\d+)").matcher(line);
        assertTrue(m.find(), key + " in " + line);
        return Long.parseLong(m.group(1));
    }
}
