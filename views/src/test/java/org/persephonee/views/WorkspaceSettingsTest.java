package org.persephonee.views;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every run setting a person changes survives a save and a restore; a value that does not parse is named. */
class WorkspaceSettingsTest {
    @Test
    void settingsRoundTripThroughTheWorkspaceMap() {
        LabModel a = new LabModel();
        a.labels().set(org.persephonee.core.personalise.LabelRegime.parse("0.25"));
        a.classes().set("T-shirt/top, Trouser, Dress, Sneaker, Bag");
        a.epochs().set(7);
        a.learningRate().set(0.011);
        a.pseudoThreshold().set(0.65);
        a.temperature().set(3.5);
        a.teacher().set(org.persephonee.core.personalise.Teacher.FINAL);
        a.finalRefit().set(org.persephonee.core.personalise.FinalRefit.ALWAYS);
        a.seed().set(9);
        a.maxDrop().set(2.5);
        a.updateLastRun().set(false);
        Map<String, String> stored = new LinkedHashMap<>();
        new WorkspaceSettings(a).save(stored);
        assertEquals(List.of("labels", "classes", "epochs", "learning_rate", "pseudo_threshold", "temperature", "teacher",
                "final_refit", "seed", "max_drop", "update_last_run"), List.copyOf(stored.keySet()));
        assertEquals("7", stored.get("epochs"));
        assertEquals("0.011", stored.get("learning_rate"));

        LabModel b = new LabModel();
        List<String> ignored = new ArrayList<>();
        new WorkspaceSettings(b).restore(stored, ignored::add);
        assertEquals(List.of(), ignored);
        assertEquals(0.25, b.labels().get().fraction(), 1e-12);
        assertEquals("T-shirt/top, Trouser, Dress, Sneaker, Bag", b.classes().get(), "the person's classes, named once");
        assertEquals(7, b.epochs().get());
        assertEquals(0.011, b.learningRate().get());
        assertEquals(0.65, b.pseudoThreshold().get());
        assertEquals(3.5, b.temperature().get());
        assertEquals(org.persephonee.core.personalise.Teacher.FINAL, b.teacher().get(), "the paper's teacher, kept");
        assertEquals(org.persephonee.core.personalise.FinalRefit.ALWAYS, b.finalRefit().get(), "the paper's re-fit, kept");
        assertEquals(9, b.seed().get());
        assertEquals(2.5, b.maxDrop().get());
        assertEquals(false, b.updateLastRun().get(), "from scratch every run, as the person chose");
    }

    @Test
    void aValueThatDoesNotParseIsNamedAndLeftAsItWas() {
        LabModel m = new LabModel();
        List<String> ignored = new ArrayList<>();
        new WorkspaceSettings(m).restore(Map.of("epochs", "ten", "seed", "5"), ignored::add);
        assertEquals(List.of("epochs=ten"), ignored);
        assertEquals(10, m.epochs().get());
        assertEquals(5, m.seed().get());
        // the label regime is typed: a workspace edited by hand to "lots" keeps the regime in force
        ignored.clear();
        new WorkspaceSettings(m).restore(Map.of("labels", "lots"), ignored::add);
        assertEquals(List.of("labels=lots"), ignored);
        assertEquals(org.persephonee.core.personalise.LabelRegime.ALL, m.labels().get());
        new WorkspaceSettings(m).restore(Map.of("labels", "10%"), ignored::add);
        assertEquals(0.1, m.labels().get().fraction(), 1e-12);
    }
}
