package org.persephonee.core;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** core is the engine: it must not depend on JavaFX (the views adapt it), as in JabRef's logic/gui split. */
class ArchitectureTest {
    @Test
    void coreClassesDoNotReferenceJavaFx() throws Exception {
        Path classes = Path.of("target", "classes", "org", "persephonee", "core");
        assertTrue(Files.isDirectory(classes), "compiled core classes expected at " + classes.toAbsolutePath());
        List<String> offenders;
        int checked;
        try (Stream<Path> s = Files.walk(classes)) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".class")).toList();
            checked = files.size();
            offenders = files.stream().filter(p -> {
                try {
                    return new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).contains("javafx/");
                } catch (Exception e) {
                    return true;
                }
            }).map(Path::toString).toList();
        }
        assertTrue(checked > 30, "only " + checked + " classes found");
        assertEquals(List.of(), offenders, "core classes referring to JavaFX");
    }

    @Test
    void javaFxIsNotOnCoresClasspath() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("javafx.application.Platform"));
    }

    private static void assertThrows(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertThrows(type, e);
    }
}
