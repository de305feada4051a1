package org.persephonee.views;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The views adapt core to JavaFX and never reach the app (its launcher and CLI depend on them, not back). */
class ViewsArchitectureTest {
    @Test
    void viewsDoNotReachTheApp() {
        JavaClasses views = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.persephonee.views");
        assertTrue(views.size() > 10, "only " + views.size() + " view classes found");
        noClasses().should().dependOnClassesThat().resideInAPackage("org.persephonee.app..").check(views);
    }
}
