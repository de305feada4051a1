package org.persephonee.core.data;

import java.util.Locale;

/** Matching of class names typed by people (folder names, CSV labels) to backbone class names. */
public final class ClassNames {
    private ClassNames() { }

    /**
     * The matching key of a name: lower case with spaces, {@code _}, {@code -} and {@code /} removed,
     * so that {@code ankle_boot} matches {@code Ankle boot} and {@code t-shirt_top} matches {@code T-shirt/top}.
     *
     * @param name non-null
     */
    public static String key(String name) {
        StringBuilder sb = new StringBuilder(name.length());
        for (char ch : name.strip().toLowerCase(Locale.ROOT).toCharArray()) {
            if (ch != ' ' && ch != '_' && ch != '-' && ch != '/' && !Character.isWhitespace(ch)) {
                sb.append(ch);
            }
        }
        return sb.toString();
    }

    /** True when two names denote the same class. */
    public static boolean same(String a, String b) {
        return key(a).equals(key(b));
    }

    /** A display name for a new class read from a folder name: underscores become spaces. */
    public static String display(String folderName) {
        String s = folderName.strip().replace('_', ' ');
        return s.isEmpty() ? folderName : s;
    }
}
