package org.persephonee.core.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Class names known to a dataset: the backbone's classes first (same indices), then new classes in the
 * order they were first seen. Names are matched with {@link ClassNames#key}.
 */
public final class LabelSpace {
    private final List<String> names = new ArrayList<>();
    private final Map<String, Integer> byKey = new LinkedHashMap<>();
    private final int backboneClasses;

    /**
     * Creates a label space starting from the backbone's classes.
     *
     * @param backboneClassNames non-null, may be empty
     */
    public LabelSpace(List<String> backboneClassNames) {
        for (String n : backboneClassNames) {
            add(n);
        }
        this.backboneClasses = names.size();
    }

    private int add(String name) {
        names.add(name);
        int idx = names.size() - 1;
        byKey.putIfAbsent(ClassNames.key(name), idx);
        return idx;
    }

    /**
     * The index of a class name, adding it as a new class when no known name matches.
     *
     * @param name non-null, non-blank
     */
    public synchronized int resolve(String name) {
        Integer i = byKey.get(ClassNames.key(name));
        return i != null ? i : add(ClassNames.display(name));
    }

    /** The index of a known class, or -1. */
    public synchronized int indexOf(String name) {
        Integer i = byKey.get(ClassNames.key(name));
        return i == null ? -1 : i;
    }

    /** The canonical name of a class (the backbone's spelling where it has one). */
    public synchronized String name(int index) { return names.get(index); }

    /** All names, backbone classes first. */
    public synchronized List<String> names() { return Collections.unmodifiableList(new ArrayList<>(names)); }

    public synchronized int size() { return names.size(); }

    /** Number of classes that come from the backbone. */
    public int backboneClasses() { return backboneClasses; }

    /** True when the class is not one of the backbone's. */
    public boolean isNew(int index) { return index >= backboneClasses; }
}
