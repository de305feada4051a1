package org.persephonee.core.backbone;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a backbone's network comes from: a declarative spec whose layers are built as DJL blocks with one parameter
 * file, or a bundle of TorchScript stages made by {@code tools/export-backbone.py}. Code that differs between the
 * two asks which one it has ({@code instanceof Declarative d}) instead of testing nullable fields.
 */
public sealed interface BackboneSource permits BackboneSource.Declarative, BackboneSource.TorchScriptStages {
    /** The backbone's id in its manifest. */
    String id();

    /** Its display name, or null. */
    String name();

    /** Its one-line description, or null. */
    String description();

    /** Its class names, in output order. */
    List<String> classes();

    /** The files beside {@code backbone.json} that make it up, relative to its folder. */
    List<String> files();

    /** {@code backbone.json} + layers built as DJL blocks, weights in one parameter file. */
    record Declarative(BackboneSpec spec) implements BackboneSource {
        @Override public String id() { return spec.id; }

        @Override public String name() { return spec.name; }

        @Override public String description() { return spec.description; }

        @Override public List<String> classes() { return spec.classes; }

        @Override
        public List<String> files() {
            return spec.parameters != null && spec.parameters.file != null ? List.of(spec.parameters.file) : List.of();
        }
    }

    /** {@code backbone.json} listing one TorchScript module per stage and one for the classifier. */
    record TorchScriptStages(StageBundleSpec bundle) implements BackboneSource {
        @Override public String id() { return bundle.id; }

        @Override public String name() { return bundle.name; }

        @Override public String description() { return bundle.description; }

        @Override public List<String> classes() { return bundle.classes; }

        @Override
        public List<String> files() {
            List<String> f = new ArrayList<>();
            for (StageBundleSpec.Entry e : bundle.entries()) {
                f.add(e.file);
            }
            if (bundle.reference != null && bundle.reference.input != null && bundle.reference.output != null) {
                f.add(bundle.reference.input);
                f.add(bundle.reference.output);
            }
            return f;
        }
    }
}
