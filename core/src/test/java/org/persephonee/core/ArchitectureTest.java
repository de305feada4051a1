package org.persephonee.core;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * core is the engine: no JavaFX (the views adapt it, as in JabRef's logic/gui split), nothing of the views or the
 * app, and no package that imports a package depending on it (ArchUnit, on the compiled production classes).
 */
class ArchitectureTest {
    static JavaClasses core;

    @BeforeAll
    static void load() {
        core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.persephonee.core");
        assertTrue(core.size() > 30, "only " + core.size() + " core classes found");
    }

    @Test
    void coreDoesNotUseJavaFx() {
        noClasses().should().dependOnClassesThat().resideInAPackage("javafx..").check(core);
    }

    @Test
    void coreDoesNotReachTheViewsOrTheApp() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.persephonee.views..",
                "org.persephonee.app..").check(core);
    }

    @Test
    void corePackagesHaveNoCycles() {
        slices().matching("org.persephonee.core.(*)..").should().beFreeOfCycles().check(core);
    }

    @Test
    void javaFxIsNotOnCoresClasspath() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("javafx.application.Platform"));
    }
}
