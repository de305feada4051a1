package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.review.ReviewQueue;
import org.persephonee.core.workspace.RunRecord;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Active labelling: after each run, queues the unlabelled training photos a label would help most
 * ({@link ReviewQueue#DEFAULT}, from the run's out-of-fold predictions); labels them one by one from the keys, and
 * every {@link ReviewModel#refitEvery()} labels re-fits the exits in the background (a new run on the labels so far,
 * once the running one ends). Called on the thread that owns the model.
 */
public final class ReviewController {
    private final LabModel lab;
    private final ReviewModel model;
    private final DataController data;
    private final RunController run;
    /** A re-fit is due but a run was going: it starts when that run ends. */
    private boolean refitDue;

    ReviewController(LabModel lab, ReviewModel model, DataController data, RunController run, LastRunKeeper kept) {
        this.lab = lab;
        this.model = model;
        this.data = data;
        this.run = run;
        run.onFinished(this::runFinished);
        run.onEnded(this::startDueRefit);
        kept.onRestored(this::restored);
    }

    /** The last run came back from the workspace: its queue too, less the photos labelled since. */
    void restored(RunRecord rec) {
        Map<Path, ImageItem> byPath = new HashMap<>();
        lab.images().forEach(i -> byPath.put(i.path(), i));
        List<ReviewModel.Item> items = new ArrayList<>();
        for (RunRecord.ReviewEntry e : rec.review) {
            ImageItem item = e.path == null ? null : byPath.get(Path.of(e.path));
            if (item == null || item.label() != null || item.test() || e.guesses.size() != e.confidences.size()) {
                continue;
            }
            List<ReviewQueue.Guess> g = new ArrayList<>();
            for (int k = 0; k < e.guesses.size(); k++) {
                g.add(new ReviewQueue.Guess(e.guesses.get(k), e.confidences.get(k)));
            }
            items.add(new ReviewModel.Item(item, g, e.exit));
        }
        show(items, rec.labels, rec.review.isEmpty() ? "Personalise once: the photos a label would help most then "
                + "queue up here." : null);
        // the accuracy chart starts from the kept run (it was empty after a restart until the next run)
        if (model.history().isEmpty() && Double.isFinite(rec.accuracy)) {
            int scored = 0;
            for (int t : rec.truth) {
                scored += t != -1 ? 1 : 0;
            }
            model.history().add(new ReviewModel.Point(rec.labelsUsed, 0, rec.accuracy, rec.evaluatedOn, scored));
        }
    }

    public ReviewModel model() { return model; }

    /** A run finished: its accuracy joins the history and its ranking replaces the queue. */
    void runFinished(RunController.Finished f) {
        PersonalisePipeline.Outcome o = f.outcome();
        PersonalisationResult r = o.result();
        CascadeResult c = o.choice().cascade();
        Map<Path, ImageItem> byPath = new HashMap<>();
        lab.images().forEach(i -> byPath.put(i.path(), i));
        // the labels this run used: a "compare label regimes" run had none or some of the labelled photos
        int labels = 0;
        int reviewed = 0;
        List<org.persephonee.core.data.PersonalImage> train = r.data().trainingImages();
        for (int k = 0; k < train.size(); k++) {
            if (r.data().labelUsed(k)) {
                labels++;
                ImageItem i = byPath.get(train.get(k).path());
                if (i != null && i.reviewed()) {
                    reviewed++;
                }
            }
        }
        double acc = c.accuracy();
        String on = r.evaluatedOn();
        int scored = r.predictions().labelled() ? r.predictions().scoredCount() : 0;
        if (!r.scoredOnLabels() && o.selection().chosenOn() != null && r.validation() != null
                && r.validation().labelled()) {
            var on2 = o.selection().chosenOn().cascade();
            acc = o.evaluation().validationLabelledCascade().evaluate(on2.exits(), on2.thresholds()).accuracy();
            on = "labelled training photos, out of fold";
            scored = r.validation().scoredCount();
        }
        model.history().add(new ReviewModel.Point(labels, reviewed, acc, on, scored));

        List<ReviewModel.Item> items = new ArrayList<>();
        for (ReviewQueue.Candidate cand : f.queue()) {
            ImageItem item = byPath.get(cand.image().path());
            if (item != null && item.label() == null && !item.test()) {
                items.add(new ReviewModel.Item(item, cand.guesses(), cand.exit()));
            }
        }
        show(items, r.labelSpace().names(), r.validation() == null
                ? "Too few training photos to rank: label them in the Data tab." : null);
        startDueRefit();
    }

    /** Shows a queue; {@code emptyMessage} (or a default) when it is empty. */
    private void show(List<ReviewModel.Item> items, List<String> labelSpace, String emptyMessage) {
        List<String> choices = new ArrayList<>(labelSpace);
        Backbone bb = lab.backbone().get();
        if (bb != null) {
            bb.classNames().stream().filter(n -> !choices.contains(n)).forEach(choices::add);
        }
        model.choices().setAll(choices.subList(0, Math.min(10, choices.size())));
        confirming = null;
        model.queue().setAll(items);
        model.position().set(0);
        model.message().set(items.isEmpty()
                ? (emptyMessage != null ? emptyMessage : "Every training photo has a label.")
                : String.format(Locale.ROOT, "%d unlabelled photos: first the surest photo of each class the exits "
                + "see, then the least certain of each class. Keys %s pick a class, Enter takes the first guess, "
                + "Backspace skips, Left goes back.", items.size(),
                model.choices().size() >= 10 ? "1-9 and 0" : "1-" + model.choices().size()));
    }

    /** Labels the photo shown with the class of key {@code k} (1-9, 0 for the tenth). */
    public void pick(int k) {
        int idx = k == 0 ? 9 : k - 1;
        if (idx < 0 || idx >= model.choices().size()) {
            return;
        }
        label(model.choices().get(idx));
    }

    /** Labels the photo shown with the run's first guess. */
    public void accept() {
        ReviewModel.Item it = model.current();
        if (it == null || it.guesses().isEmpty()) {
            return;
        }
        ReviewQueue.Guess first = it.guesses().get(0);
        if (first.confidence() < SURE_ENOUGH && confirming != it) {
            // after the first round the queue shows the least certain photos, whose first guesses are often wrong:
            // Enter pressed through them got 3 of tilted-phone's 11 photos right and took its accuracy down 4 points
            if (confirming == null) {
                beforeConfirming = model.message().get();
            }
            confirming = it;
            model.message().set(String.format(Locale.ROOT, "The exits are only %.0f %% sure this is '%s'. Press "
                    + "Enter again to label it so, or pick the class with its number key.", 100 * first.confidence(),
                    first.label()));
            return;
        }
        label(first.label());
    }

    /**
     * Below this confidence Enter asks to be pressed again before it takes the first guess. Measured on the review
     * lists of both sample personas (~10 % labels, seed 42, 300 photos each, against sample-data/truth): first
     * guesses below 0.5 were right 49 / 59 % of the time, 0.5-0.7 56 / 69 %, 0.7-0.9 94 / 100 %, above 0.9 all.
     */
    static final double SURE_ENOUGH = 0.7;

    /** The photo whose unsure first guess Enter was pressed on once (a second press takes it). */
    private ReviewModel.Item confirming;
    /** The message the question replaced, shown again once the person moves on. */
    private String beforeConfirming;

    /** Forgets an unanswered question about an unsure guess, and puts the queue's message back. */
    private void stopConfirming() {
        if (confirming != null) {
            confirming = null;
            model.message().set(beforeConfirming);
        }
    }

    /** Leaves the photo shown unlabelled and shows the next. */
    public void skip() {
        advance();
    }

    /** Shows the photo before (its label, if given, can be changed). */
    public void back() {
        stopConfirming();
        model.position().set(Math.max(0, model.position().get() - 1));
    }

    private void label(String cls) {
        ReviewModel.Item it = model.current();
        if (it == null) {
            return;
        }
        boolean fresh = it.image().label() == null;
        data.review(it.image(), cls);
        if (fresh) {
            model.sinceRefitWritable().set(model.sinceRefit().get() + 1);
        }
        advance();
        if (model.sinceRefit().get() >= Math.max(1, model.refitEvery().get())) {
            refitDue = true;
            startDueRefit();
        }
    }

    /** Moves to the next photo not labelled since the queue was made. */
    private void advance() {
        stopConfirming();
        int p = model.position().get() + 1;
        while (p < model.queue().size() && model.queue().get(p).image().label() != null) {
            p++;
        }
        model.position().set(Math.min(p, model.queue().size()));
        if (p >= model.queue().size() && !model.queue().isEmpty()) {
            model.message().set("The queue is done: the next run ranks the rest.");
        }
    }

    /** Starts the due re-fit when nothing runs. */
    private void startDueRefit() {
        if (!refitDue || lab.running().get() || run.cannotStart().isPresent()) {
            return;
        }
        refitDue = false;
        model.sinceRefitWritable().set(0);
        model.message().set("Re-fitting the exits on the labels so far ...");
        run.start();
    }
}
