package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.StageTable;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code inspect}: prints a backbone's stage table. */
public final class InspectCommand implements Command {
    @Override public String name() { return "inspect"; }

    @Override public String summary() { return "print a backbone's stages: output shape, MACs, parameters"; }

    @Override public String usage() {
        return "inspect --backbone DIR [--json]\n"
                + "  --backbone  backbone folder (backbone.json + parameters)\n"
                + "  --json      machine-readable output with a 'stages' array";
    }

    @Override public Set<String> valuedOptions() { return Set.of("backbone"); }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        try (Backbone bb = BackboneIO.load(args.path("backbone"))) {
            if (args.flag("json")) {
                out.println(Json.of(describe(bb)));
            } else {
                out.print(StageTable.text(bb));
            }
        }
        return 0;
    }

    /** JSON-ready description of a backbone. */
    static Map<String, Object> describe(Backbone bb) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", bb.id());
        m.put("name", bb.name());
        m.put("input", Map.of("channels", bb.input().channels(), "height", bb.input().height(),
                "width", bb.input().width()));
        m.put("classes", bb.classNames());
        m.put("stages", StageTable.rows(bb));
        m.put("classifier_macs", bb.classifierMacs());
        m.put("total_macs", bb.totalMacs());
        m.put("total_params", bb.totalParams());
        m.put("parameters_sha256", bb.parametersSha256());
        return m;
    }
}
