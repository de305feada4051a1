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

    /**
     * DJL's NDArray methods that take a Java number (x.mul(2f), x.maximum(0), x.div(t), ...) wrap it in a tensor over
     * a Java direct buffer and close that tensor as soon as the operation returns; where libtorch keeps a reference to
     * it (autograd saves a product's operands for the backward pass), the buffer is later freed by the garbage
     * collector while libtorch still reads it, and gradients come out wrong or NaN (measured: the engine probe's
     * {@code maximum(0)} under a collecting thread differed in 29 of 30 runs). Scalars are made with
     * {@link org.persephonee.core.engine.Tensors}, in native memory.
     */
    @Test
    void noNdArrayOperationTakesAJavaNumber() {
        noClasses().should().callMethodWhere(com.tngtech.archunit.base.DescribedPredicate.describe(
                "an NDArray method with a java.lang.Number parameter",
                (com.tngtech.archunit.core.domain.JavaMethodCall c) -> c.getTarget().getOwner()
                        .isAssignableTo(ai.djl.ndarray.NDArray.class)
                        && c.getTarget().getRawParameterTypes().stream()
                        .anyMatch(t -> t.isAssignableTo(Number.class)))).check(core);
    }

    @Test
    void javaFxIsNotOnCoresClasspath() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("javafx.application.Platform"));
    }
}
