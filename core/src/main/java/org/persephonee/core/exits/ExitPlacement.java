package org.persephonee.core.exits;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An exit attached after a backbone stage.
 *
 * @param stage non-null stage name
 * @param head non-null head design
 */
public record ExitPlacement(String stage, HeadSpec head) {
    public ExitPlacement {
        Objects.requireNonNull(stage, "stage");
        Objects.requireNonNull(head, "head");
    }

    /** Parses {@code STAGE:HEAD[,STAGE:HEAD...]}, e.g. {@code block2:linear,block5:conv}. */
    public static List<ExitPlacement> parseList(String s) {
        List<ExitPlacement> out = new ArrayList<>();
        for (String part : s.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            out.add(parse(p));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no exits given");
        }
        return out;
    }

    /**
     * Proposed placements: a head of the given type after every stage but the last (the final classifier
     * already sits there). The operating-point search later drops exits that do not pay off.
     */
    public static List<ExitPlacement> auto(org.persephonee.core.backbone.Backbone bb, HeadSpec head) {
        List<ExitPlacement> out = new ArrayList<>();
        for (int i = 0; i < bb.stages().size() - 1; i++) {
            out.add(new ExitPlacement(bb.stages().get(i).name(), head));
        }
        return out;
    }

    /** The default proposal: a grid head after every stage but the last. */
    public static List<ExitPlacement> auto(org.persephonee.core.backbone.Backbone bb) {
        return auto(bb, HeadSpec.of(HeadType.GRID));
    }

    /**
     * The exit's key, {@code stage:headId} (e.g. {@code block3:grid4}): the one name of an exit in results, latency
     * profiles, kept runs and the lab. {@link #parse} reads it back.
     */
    public String key() {
        return key(stage, head);
    }

    /** The key of a head of this design after this stage ({@link #key()}). */
    public static String key(String stage, HeadSpec head) {
        return stage + ":" + head.id();
    }

    /** The placement a key names ({@link #key()}); an IllegalArgumentException says what is wrong with it. */
    public static ExitPlacement parse(String key) {
        int colon = key.indexOf(':');
        if (colon <= 0 || colon == key.length() - 1) {
            throw new IllegalArgumentException("bad exit '" + key + "': expected STAGE:HEAD, e.g. block3:conv");
        }
        return new ExitPlacement(key.substring(0, colon).strip(), HeadSpec.parse(key.substring(colon + 1)));
    }

    /** The stage of a key ({@link #key()}) without parsing its head. */
    public static String stageOf(String key) {
        int colon = key.indexOf(':');
        return colon < 0 ? key : key.substring(0, colon);
    }

    @Override
    public String toString() { return key(); }
}
