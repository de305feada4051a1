package org.persephonee.app.cli;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.review.ReviewQueue;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** {@code personalise --review N}: the photos to label next, printed and optionally written as a fill-in CSV. */
final class ReviewList {
    private ReviewList() { }

    static void emit(PersonalisePipeline.Outcome o, Path dataDir, int n, Path csv, PrintStream out) throws IOException {
        CascadeResult c = o.choice().cascade();
        List<ReviewQueue.Candidate> all = ReviewQueue.rank(o.result(), c.exits(), c.thresholds(), ReviewQueue.DEFAULT,
                o.result().config().seed());
        if (all.isEmpty()) {
            out.println("review: nothing to review (no unlabelled training photos, or too few photos to rank)");
            return;
        }
        List<ReviewQueue.Candidate> top = all.subList(0, Math.min(n, all.size()));
        Path root = dataDir.toAbsolutePath().normalize();
        out.printf(Locale.ROOT, "Label these %d of %d unlabelled photos next (%s: the surest photo of each class "
                + "first, then the least certain of each class):%n", top.size(), all.size(),
                ReviewQueue.DEFAULT.display());
        StringBuilder sb = new StringBuilder();
        try (CSVPrinter p = new CSVPrinter(sb, CSVFormat.DEFAULT.builder().setRecordSeparator("\n").get())) {
            p.printRecord("path", "label", "guess", "confidence", "second", "second_confidence", "third",
                    "third_confidence", "exit");
            for (ReviewQueue.Candidate cand : top) {
                Path abs = cand.image().path().toAbsolutePath().normalize();
                String rel = abs.startsWith(root) ? root.relativize(abs).toString().replace('\\', '/') : abs.toString();
                StringBuilder guesses = new StringBuilder();
                Object[] row = new Object[9];
                row[0] = rel;
                row[1] = "";
                for (int g = 0; g < 3; g++) {
                    ReviewQueue.Guess guess = g < cand.guesses().size() ? cand.guesses().get(g) : null;
                    row[2 + 2 * g] = guess == null ? "" : guess.label();
                    row[3 + 2 * g] = guess == null ? "" : String.format(Locale.ROOT, "%.3f", guess.confidence());
                    if (guess != null) {
                        guesses.append(String.format(Locale.ROOT, "%s%s %.0f%%", g == 0 ? "" : ", ", guess.label(),
                                100 * guess.confidence()));
                    }
                }
                row[8] = cand.exit();
                p.printRecord(row);
                out.printf(Locale.ROOT, "  %-40s %s  (would leave at %s)%n", rel, guesses, cand.exit());
            }
        }
        if (csv != null) {
            AtomicFiles.writeString(csv, sb.toString());
            out.println("review: wrote " + csv + ": fill in the label column and save it as labels.csv in " + dataDir
                    + " (then personalise again with --labels-chosen)");
        }
    }
}
