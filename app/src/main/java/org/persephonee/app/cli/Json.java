package org.persephonee.app.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

/** JSON output for {@code --json}. */
final class Json {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();

    private Json() { }

    static String of(Object o) {
        return GSON.toJson(o);
    }
}
