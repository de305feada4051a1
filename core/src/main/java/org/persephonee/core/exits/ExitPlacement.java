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
            int colon = p.indexOf(':');
            if (colon <= 0 || colon == p.length() - 1) {
                throw new IllegalArgumentException("bad exit '" + p + "': expected STAGE:HEAD, e.g. block3:conv");
            }
            out.add(new ExitPlacement(p.substring(0, colon).strip(), HeadSpec.parse(p.substring(colon + 1))));
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

    @Override
    public String toString() { return stage + ":" + head.id(); }
}
