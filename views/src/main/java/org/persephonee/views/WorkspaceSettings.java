package org.persephonee.views;

import javafx.beans.property.Property;
import javafx.beans.value.ObservableValue;

import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The run settings a workspace keeps, listed once: their key in the workspace file, the model's property and how
 * a stored value is read back. Saving, restoring and watching for changes all go through this list (the
 * controller used to write the seven settings out three times).
 */
final class WorkspaceSettings {
    /** One setting: its key, its property and how its stored text becomes a value. */
    record Setting<T>(String key, Property<T> property, Function<String, T> parse) {
        /** The stored text of the current value, or null when there is none. */
        String text() {
            T v = property.getValue();
            return v == null ? null : v.toString();
        }

        void apply(String text) {
            property.setValue(parse.apply(text));
        }
    }

    private final List<Setting<?>> settings;

    WorkspaceSettings(LabModel m) {
        settings = List.of(
                new Setting<>("labels", m.labels(), org.persephonee.core.personalise.LabelRegime::parse),
                new Setting<>("classes", m.classes(), String::strip),
                new Setting<Number>("epochs", m.epochs(), Integer::parseInt),
                new Setting<Number>("learning_rate", m.learningRate(), Double::parseDouble),
                new Setting<Number>("pseudo_threshold", m.pseudoThreshold(), Double::parseDouble),
                new Setting<Number>("temperature", m.temperature(), Double::parseDouble),
                new Setting<>("teacher", m.teacher(), org.persephonee.core.personalise.Teacher::valueOf),
                new Setting<>("final_refit", m.finalRefit(), org.persephonee.core.personalise.FinalRefit::valueOf),
                new Setting<Number>("seed", m.seed(), Integer::parseInt),
                new Setting<Number>("max_drop", m.maxDrop(), Double::parseDouble),
                new Setting<>("update_last_run", m.updateLastRun(), Boolean::parseBoolean));
    }

    /** Every setting's property, to watch for changes. */
    List<ObservableValue<?>> properties() {
        return settings.stream().<ObservableValue<?>>map(Setting::property).toList();
    }

    /** Writes every setting into a workspace's settings map. */
    void save(Map<String, String> into) {
        for (Setting<?> s : settings) {
            into.put(s.key(), s.text());
        }
    }

    /**
     * Applies the settings a workspace holds; a value that does not parse is left as it is and reported
     * ({@code "epochs=ten"}).
     */
    void restore(Map<String, String> from, Consumer<String> ignored) {
        for (Setting<?> s : settings) {
            String v = from.get(s.key());
            if (v != null) {
                try {
                    s.apply(v);
                } catch (RuntimeException e) {
                    ignored.accept(s.key() + "=" + v);
                }
            }
        }
    }
}
