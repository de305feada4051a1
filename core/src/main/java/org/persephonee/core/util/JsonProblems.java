package org.persephonee.core.util;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns the JSON library's parse errors into one plain line for a user: what was wrong and where
 * ("expected a number but found text at line 12 column 7 (input.height)"), without exception class names,
 * advice about lenient parsing or links.
 */
public final class JsonProblems {
    private static final Map<String, String> TOKENS = Map.of(
            "BEGIN_OBJECT", "an object", "END_OBJECT", "the end of an object", "BEGIN_ARRAY", "a list",
            "END_ARRAY", "the end of a list", "STRING", "text", "NUMBER", "a number", "BOOLEAN", "true or false",
            "NULL", "null", "NAME", "a field name", "END_DOCUMENT", "the end of the file");
    private static final Pattern EXPECTED = Pattern.compile("Expected (\\w+) but was (\\w+)");
    private static final Pattern PATH = Pattern.compile(" path \\$\\.?(\\S*)");
    private static final Pattern NUMBER = Pattern.compile("For input string: \"([^\"]*)\"");

    private JsonProblems() { }

    /**
     * Gson's {@code fromJson}, with the one failure it reports as a bare {@link IllegalArgumentException} (a null
     * inside an array of numbers, e.g. {@code "mean": [null]}) turned into a parse error like the others.
     */
    public static <T> T fromJson(com.google.gson.Gson gson, com.google.gson.JsonElement tree, Class<T> type) {
        return parsed(() -> gson.fromJson(tree, type));
    }

    /** {@link #fromJson(com.google.gson.Gson, com.google.gson.JsonElement, Class)} for a JSON text. */
    public static <T> T fromJson(com.google.gson.Gson gson, String text, Class<T> type) {
        return parsed(() -> gson.fromJson(text, type));
    }

    private static <T> T parsed(java.util.function.Supplier<T> read) {
        try {
            return read.get();
        } catch (IllegalArgumentException e) {
            throw new com.google.gson.JsonSyntaxException("an array of numbers holds null or a value that is not a number");
        }
    }

    /** One line describing why a JSON text could not be read. */
    public static String describe(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int see = m.indexOf("\nSee ");
        if (see >= 0) {
            m = m.substring(0, see);
        }
        m = m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON")
                .replaceAll("(com\\.google\\.gson\\.[\\w.]+|java\\.lang\\.\\w+): ", "").strip();
        Matcher num = NUMBER.matcher(m);
        if (num.find()) {
            m = "'" + num.group(1) + "' is not a number" + m.substring(num.end());
        }
        Matcher ex = EXPECTED.matcher(m);
        if (ex.find()) {
            m = m.substring(0, ex.start()) + "expected " + token(ex.group(1)) + " but found " + token(ex.group(2))
                    + m.substring(ex.end());
        }
        Matcher p = PATH.matcher(m);
        if (p.find()) {
            String where = p.group(1);
            m = m.substring(0, p.start()) + (where.isEmpty() ? "" : " (" + where + ")") + m.substring(p.end());
        }
        if (m.isEmpty()) {
            return "not valid JSON";
        }
        return m.substring(0, 1).toLowerCase(Locale.ROOT) + m.substring(1);
    }

    private static String token(String t) {
        return TOKENS.getOrDefault(t, t.toLowerCase(Locale.ROOT));
    }
}
