package org.persephonee.core.engine;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine self-check and its instruction-set cap, end to end in fresh JVMs (the cap must be in force before
 * libtorch loads, so it cannot be tested inside this one). Runs the same on any x86 CPU: the uncapped probe
 * is forced to fail, so the cap path is exercised whether or not this CPU needs it.
 */
class EngineGuardTest {
    private record Child(String stdout, JsonObject doctor) { }

    private static Child doctor(Path cache, String selfCheck) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true",
                "-D" + EngineGuard.CACHE + "=" + cache, "-D" + EngineGuard.SELF_CHECK + "=" + selfCheck,
                Doctor.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove(EngineGuard.ISA_ENV);
        pb.environment().put("ONEDNN_VERBOSE", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "doctor child did not finish");
        String line = out.lines().filter(l -> l.startsWith("PERSEPHONEE-DOCTOR ")).findFirst().orElse(null);
        assertNotNull(line, "no report from the child JVM; it printed:\n" + out.lines()
                .filter(l -> !l.startsWith("onednn_verbose") && !l.contains("NNPACK")).reduce("", (a, b) -> a + b + "\n"));
        return new Child(out, JsonParser.parseString(line.substring("PERSEPHONEE-DOCTOR ".length())).getAsJsonObject());
    }

    @Test
    void aFailedSelfCheckCapsOneDnnInTheEngineAndTrainingStaysFinite(@TempDir Path tmp) throws Exception {
        Path cache = tmp.resolve("engine-check.json");
        Child c = doctor(cache, "force-fail");
        JsonObject v = c.doctor().getAsJsonObject("verdict");
        assertEquals("capped", v.get("status").getAsString(), v.toString());
        assertEquals("AVX2", v.get("cap").getAsString());
        // the cap is in the process environment that libtorch reads ...
        assertEquals("AVX2", c.doctor().get("capInForce").getAsString());
        // ... and oneDNN in that very process says it runs AVX2 kernels
        String isa = c.stdout().lines().filter(l -> l.contains(",info,cpu,isa:")).findFirst().orElse("");
        assertTrue(isa.contains("isa:") && !isa.contains("AVX-512"), "oneDNN in the capped process reported: " + isa);
        // training (8 SGD steps of the conv->conv probe) in the capped engine is finite and matches float64
        JsonObject inProcess = c.doctor().getAsJsonObject("inProcessCheck");
        assertTrue(inProcess.get("passed").getAsBoolean(), inProcess.toString());
        assertEquals(8, inProcess.get("finiteSteps").getAsInt());
        // the verdict names the failed uncapped probe and the passing capped one
        var probes = v.getAsJsonArray("probes");
        assertFalse(probes.get(0).getAsJsonObject().getAsJsonObject("outcome").get("passed").getAsBoolean());
        assertTrue(probes.get(0).getAsJsonObject().getAsJsonObject("outcome").get("detail").getAsString()
                .startsWith("forced to fail"));
        assertTrue(probes.get(1).getAsJsonObject().getAsJsonObject("outcome").get("passed").getAsBoolean());
        assertTrue(Files.readString(cache).contains("\"capped\""), "verdict cached");

        // a second start reads the cached verdict and applies the same cap without probing again
        Child again = doctor(cache, "force-fail");
        JsonObject v2 = again.doctor().getAsJsonObject("verdict");
        assertTrue(v2.get("cached").getAsBoolean());
        assertEquals("AVX2", again.doctor().get("capInForce").getAsString());
    }

    @Test
    void theVerdictOfThisTestJvmIsReportedAndItsEngineIsCorrect() {
        Engines.pytorch();
        EngineGuard.Verdict v = EngineGuard.current().orElseThrow();
        assertTrue(List.of("ok", "capped", "user-cap").contains(v.status()), v.reason());
        EngineProbe.Outcome o = Engines.inProcessCheck().orElseThrow();
        assertTrue(o.passed(), o.detail());
        assertEquals(EngineProbe.STEPS, o.finiteSteps());
    }

    /**
     * The probe's ReLU ({@code maximum} with 0) is saved for the backward pass: made as DJL's number overload made it,
     * over a Java buffer the collector freed, the check failed 10 runs of 10 here with a thread collecting garbage,
     * by up to 0.85, and the engine refused to start on a correct CPU.
     */
    @Test
    void theProbePassesWhileGarbageIsCollected() throws Exception {
        EngineProbe.Outcome quiet = EngineProbe.run();
        assertTrue(quiet.passed(), quiet.detail());
        try (CollectingGarbage gc = CollectingGarbage.start()) {
            for (int r = 0; r < 3; r++) {
                // passing is the point (bit-equality with the quiet run would also hold here, but the kernels of
                // other CPUs need not promise it)
                EngineProbe.Outcome o = EngineProbe.run();
                assertTrue(o.passed(), "run " + r + " under collection: " + o.detail());
            }
        }
    }

    @Test
    void theProbeFindsWrongNumbersWhenTheyAreThere() {
        EngineProbe.Outcome o = EngineProbe.run();
        assertTrue(o.passed() && o.maxRelDiff() < EngineProbe.TOLERANCE && o.maxRelDiff() > 0,
                "float32 and float64 differ by rounding only: " + o.maxRelDiff());
        try {
            // float32 weights 1 % off after every step: finite, but wrong
            EngineProbe.perturb = 0.01f;
            EngineProbe.Outcome off = EngineProbe.run();
            assertFalse(off.passed(), off.detail());
            assertEquals(EngineProbe.STEPS, off.finiteSteps());
            assertTrue(off.detail().contains("differs from float64"), off.detail());
            // a NaN in the float32 weights
            EngineProbe.perturb = Float.NaN;
            EngineProbe.Outcome nan = EngineProbe.run();
            assertFalse(nan.passed(), nan.detail());
            assertTrue(nan.finiteSteps() < EngineProbe.STEPS, nan.detail());
            assertTrue(nan.detail().contains("non-finite"), nan.detail());
        } finally {
            EngineProbe.perturb = 0;
        }
    }

    @Test
    void oneOddRunDoesNotRefuseTheEngineButARepeatedFailureDoes() {
        try {
            // one run 1 % off (the rare odd run seen with the AVX2 cap under load): the engine still starts
            EngineProbe.perturb = 0.01f;
            EngineProbe.perturbRuns = 1;
            EngineProbe.Outcome once = Engines.inProcessProbe();
            assertTrue(once.passed(), once.detail());
            assertTrue(once.detail().contains("the first differed"), once.detail());
            // every run off: refused, saying how many runs failed
            EngineProbe.perturb = 0.01f;
            EngineProbe.perturbRuns = 0;
            EngineProbe.Outcome always = Engines.inProcessProbe();
            assertFalse(always.passed(), always.detail());
            assertTrue(always.detail().contains("5 of 5 runs failed"), always.detail());
        } finally {
            EngineProbe.perturb = 0;
            EngineProbe.perturbRuns = 0;
        }
    }

    @Test
    void twoOddRunsInARowDoNotRefuseTheEngineButThreeOfFiveDo() {
        // scripted runs (a real probe adds an odd run of its own now and then, under load): the rule alone
        EngineProbe.Outcome odd = new EngineProbe.Outcome(false, EngineProbe.STEPS, EngineProbe.STEPS, 0.2,
                java.util.List.of(), "float32 differs from float64 by 2.0e-01 (limit 1e-03)", 0.01);
        EngineProbe.Outcome fine = new EngineProbe.Outcome(true, EngineProbe.STEPS, EngineProbe.STEPS, 1e-6,
                java.util.List.of(), "float32 matches float64 within 1.0e-06 over 8 steps", 0.01);
        // seen at a busy start of the lab: the first two runs odd
        java.util.Iterator<EngineProbe.Outcome> twice = java.util.List.of(odd, odd, fine, fine, fine).iterator();
        EngineProbe.Outcome started = Engines.inProcessProbe(twice::next, 0);
        assertTrue(started.passed(), started.detail());
        assertTrue(started.detail().contains("3 of 5 runs; the first differed"), started.detail());
        java.util.Iterator<EngineProbe.Outcome> most = java.util.List.of(odd, fine, odd, fine, odd).iterator();
        EngineProbe.Outcome refused = Engines.inProcessProbe(most::next, 0);
        assertFalse(refused.passed(), refused.detail());
        assertTrue(refused.detail().contains("3 of 5 runs failed"), refused.detail());
    }

    @Test
    void runningUncappedNeedsSeveralPassingRunsAndACapOne() {
        // the fault is intermittent: one uncapped pass once cached "no cap", and the engine then refused to start
        EngineGuard.ProbeRun plain = ProbeProcess.run(null);
        String d = plain.outcome().detail();
        int n = ProbeProcess.UNCAPPED_REPEATS;
        assertTrue(plain.outcome().passed() ? d.endsWith("in each of " + n + " runs")
                : d.matches(".*\\(run [0-9]+ of " + n + "\\)$"), d);
        EngineGuard.ProbeRun capped = ProbeProcess.run("AVX2");
        assertTrue(!capped.outcome().detail().contains(" of " + n), capped.outcome().detail());
    }
}
