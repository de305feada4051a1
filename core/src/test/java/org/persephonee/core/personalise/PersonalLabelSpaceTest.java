package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How a run's label space is found: the person's labels, or without any, the teacher's confident classes. */
class PersonalLabelSpaceTest {
    static final List<String> BACKBONE = List.of("T-shirt", "Trouser", "Pullover", "Dress");

    /** Logits the teacher is sure of (class {@code k}) or unsure of (k < 0). */
    static float[] teacher(int k) {
        float[] l = new float[BACKBONE.size()];
        if (k >= 0) {
            l[k] = 10;
        }
        return l;
    }

    @Test
    void labelsGiveTheLabelSpaceInBackboneOrderThenNewClassesByName() throws Exception {
        List<String> labels = Arrays.asList("Dress", "Scarf", "T-shirt", null, "Beanie", "Dress");
        float[][] t = new float[labels.size()][];
        Arrays.fill(t, teacher(1));
        PersonalLabelSpace s = PersonalLabelSpace.infer(BACKBONE, labels, t, UnlabelledRule.BOTH, 0.8);
        assertEquals(List.of("T-shirt", "Dress", "Beanie", "Scarf"), s.names());
        assertArrayEquals(new int[] {0, 3, -1, -1}, s.backboneIndex());
        assertTrue(s.hasNewClasses());
    }

    @Test
    void withoutLabelsTheTeachersConfidentClassesCountFromThreeImagesOrTwoPercent() throws Exception {
        List<String> labels = new ArrayList<>();
        List<float[]> t = new ArrayList<>();
        // 200 unlabelled: 150 sure Trouser, 40 sure Pullover, 3 sure Dress (under 2 % of 200: 4), 7 unsure
        int[][] groups = {{1, 150}, {2, 40}, {3, 3}, {-1, 7}};
        for (int[] g : groups) {
            for (int i = 0; i < g[1]; i++) {
                labels.add(null);
                t.add(teacher(g[0]));
            }
        }
        PersonalLabelSpace s = PersonalLabelSpace.infer(BACKBONE, labels, t.toArray(new float[0][]),
                UnlabelledRule.BOTH, 0.8);
        assertEquals(List.of("Trouser", "Pullover"), s.names());
        assertArrayEquals(new int[] {1, 2}, s.backboneIndex());
    }

    @Test
    void aGuessNamesTheClassesItLeftOutThoughTheTeacherNamedThemFirstForATenthOfThePhotos() throws Exception {
        List<String> labels = new ArrayList<>();
        List<float[]> t = new ArrayList<>();
        // 200 unlabelled: 120 sure Trouser, 15 sure T-shirt, then unsure top guesses: 50 Pullover (p 0.48), 15 Dress
        // (7.5 %, under a tenth)
        int[][] groups = {{1, 120}, {0, 15}, {2, 50}, {3, 15}};
        for (int g = 0; g < groups.length; g++) {
            for (int i = 0; i < groups[g][1]; i++) {
                labels.add(null);
                float[] l = g < 2 ? teacher(groups[g][0]) : new float[BACKBONE.size()];
                if (g >= 2) {
                    l[groups[g][0]] = 1f;
                }
                t.add(l);
            }
        }
        float[][] logits = t.toArray(new float[0][]);
        PersonalLabelSpace s = PersonalLabelSpace.infer(BACKBONE, labels, logits, UnlabelledRule.BOTH, 0.8);
        assertEquals(List.of("T-shirt", "Trouser"), s.names(), "the guess itself is unchanged");
        List<PersonalLabelSpace.LeftOut> left = s.leftOut(BACKBONE, labels, logits, 0.8);
        assertEquals(List.of(new PersonalLabelSpace.LeftOut("Pullover", 50, 0, 200)), left);
        assertEquals("Pullover (the top guess for 50 of 200 photos, sure of 0)", left.get(0).describe());
        // labelled photos are not part of the guess
        List<String> someLabelled = new ArrayList<>(labels);
        for (int i = 135; i < 185; i++) {
            someLabelled.set(i, "Pullover");
        }
        assertTrue(s.leftOut(BACKBONE, someLabelled, logits, 0.8).stream().noneMatch(l -> l.name().equals("Pullover")));
    }

    @Test
    void fewerThanTwoClassesIsRefusedWithAWayOut() {
        List<String> labels = Arrays.asList(null, null, null, null);
        float[][] t = {teacher(1), teacher(1), teacher(1), teacher(1)};
        PersonalisationException e = assertThrows(PersonalisationException.class,
                () -> PersonalLabelSpace.infer(BACKBONE, labels, t, UnlabelledRule.BOTH, 0.8));
        assertTrue(e.getMessage().contains("1 class (Trouser)") && e.getMessage().contains("label images"),
                e.getMessage());
        // ignoring unlabelled images leaves no classes at all
        e = assertThrows(PersonalisationException.class,
                () -> PersonalLabelSpace.infer(BACKBONE, labels, t, UnlabelledRule.IGNORE, 0.8));
        assertTrue(e.getMessage().contains("0 classes"), e.getMessage());
    }

    @Test
    void declaredClassesAreTheLabelSpaceWhateverTheTeacherIsSureOf() throws Exception {
        // 100 unlabelled photos the teacher calls Trouser with confidence: the person said T-shirt and Dress
        List<String> labels = new ArrayList<>();
        float[][] t = new float[100][];
        for (int i = 0; i < t.length; i++) {
            labels.add(null);
            t[i] = teacher(1);
        }
        PersonalLabelSpace s = PersonalLabelSpace.infer(BACKBONE, labels, t, UnlabelledRule.BOTH, 0.8,
                List.of("dress", " t_shirt "));
        assertEquals(List.of("T-shirt", "Dress"), s.names(), "backbone spelling and order, matched as folders are");
        assertArrayEquals(new int[] {0, 3}, s.backboneIndex());
    }

    @Test
    void declaredClassesJoinTheLabelledOnes() throws Exception {
        List<String> labels = Arrays.asList("Scarf", null, "Pullover", null);
        float[][] t = {teacher(1), teacher(1), teacher(1), teacher(1)};
        PersonalLabelSpace s = PersonalLabelSpace.infer(BACKBONE, labels, t, UnlabelledRule.BOTH, 0.8,
                List.of("Dress", "scarf"));
        assertEquals(List.of("Pullover", "Dress", "Scarf"), s.names());
    }

    @Test
    void aDeclaredClassTheBackboneDoesNotKnowNeedsLabelledPhotos() {
        List<String> labels = Arrays.asList(null, null);
        float[][] t = {teacher(1), teacher(2)};
        PersonalisationException e = assertThrows(PersonalisationException.class, () -> PersonalLabelSpace.infer(
                BACKBONE, labels, t, UnlabelledRule.BOTH, 0.8, List.of("Trouser", "Beanie")));
        assertTrue(e.getMessage().contains("'Beanie' is not one of the backbone's") && e.getMessage().contains("labelled"),
                e.getMessage());
    }

    @Test
    void aConfigNamesAtLeastTwoClassesOnceEach() {
        PersonalisationConfig.Builder b = PersonalisationConfig.builder()
                .setPlacements(List.of(org.persephonee.core.exits.ExitPlacement.parse("block1:grid")));
        assertEquals(List.of("Dress", "T-shirt"),
                b.optClasses(Arrays.asList("Dress", " ", "T-shirt", "dress", null)).build().classes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.optClasses(List.of("Dress")).build());
        assertTrue(e.getMessage().contains("at least two"), e.getMessage());
        assertEquals(List.of(), b.optClasses(List.of("", " ")).build().classes(), "blank: inferred");
    }
}
