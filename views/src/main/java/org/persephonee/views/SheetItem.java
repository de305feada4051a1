package org.persephonee.views;

import javafx.beans.value.ObservableValue;
import org.controlsfx.control.PropertySheet;

import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** A PropertySheet row backed by a getter and a setter. */
final class SheetItem implements PropertySheet.Item {
    private final Class<?> type;
    private final String category;
    private final String name;
    private final String description;
    private final Supplier<Object> getter;
    private final Consumer<Object> setter;
    private final ObservableValue<?> observable;

    SheetItem(Class<?> type, String category, String name, String description, Supplier<Object> getter,
              Consumer<Object> setter, ObservableValue<?> observable) {
        this.type = type;
        this.category = category;
        this.name = name;
        this.description = description;
        this.getter = getter;
        this.setter = setter;
        this.observable = observable;
    }

    @Override public Class<?> getType() { return type; }

    @Override public String getCategory() { return category; }

    @Override public String getName() { return name; }

    @Override public String getDescription() { return description; }

    @Override public Object getValue() { return getter.get(); }

    @Override
    public void setValue(Object value) {
        if (setter != null && value != null && !value.equals(getter.get())) {
            setter.accept(value);
        }
    }

    @Override public boolean isEditable() { return setter != null; }

    @Override public Optional<ObservableValue<?>> getObservableValue() { return Optional.ofNullable(observable); }
}
