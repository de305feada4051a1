package org.persephonee.views;

import javafx.application.Platform;
import javafx.stage.Stage;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * A lab in its own JVM (headless), for {@link LabKillTest}. {@code work WS PERSONA}: personalises with two exits,
 * reviews three photos, prints {@code READY ...} once the workspace is saved and then waits to be killed.
 * {@code check WS PERSONA}: restores the workspace as the app does after a restart, prints what came back, runs again
 * and prints on how many photos the backbone ran.
 */
public final class KillScenario {
    private KillScenario() { }

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        boolean work = args[0].equals("work");
        Path ws = Path.of(args[1]);
        Path persona = Path.of(args[2]);
        CompletableFuture<Void> fx = new CompletableFuture<>();
        Platform.startup(() -> fx.complete(null));
        fx.get();
        LabModel model = new LabModel();
        ExecutorService engine = Executors.newSingleThreadExecutor();
        ExecutorService io = Executors.newSingleThreadExecutor();
        WorkspaceStore store = new WorkspaceStore(ws);
        WorkspaceState state = work ? new WorkspaceState() : store.load().state();
        LabController c = onFx(() -> {
            LabController lc = new LabController(model, engine, io, store);
            LabView view = new LabView(model, lc);
            javafx.scene.Parent root = view.build();
            view.started();
            LabUiTest.show(new Stage(), root);
            lc.restore(state, LabUiTest.BACKBONE, persona);
            return lc;
        });
        ReviewModel review = c.review().model();
        if (work) {
            waitFor(() -> model.backbone().get() != null && !model.images().isEmpty());
            onFx(() -> {
                c.exits().addExit("block3", HeadType.GRID);
                c.exits().addExit("block6", HeadType.GRID);
                model.epochs().set(2);
                review.refitEvery().set(1000);
                c.run().start();
                return null;
            });
            waitFor(() -> !model.running().get() && review.history().size() == 1 && !review.queue().isEmpty());
            for (int k = 1; k <= 3; k++) {
                int key = k;
                onFx(() -> {
                    c.review().pick(key);
                    return null;
                });
            }
            // saved by the lab as it goes: nothing here asks for a save
            waitFor(() -> new WorkspaceStore(ws).load().state().images.stream().filter(i -> i.reviewed).count() == 3
                    && new WorkspaceStore(ws).load().state().lastRun != null);
            System.out.println("READY reviewed=3 memo_files=" + files(ws.resolve("features")));
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
        waitFor(() -> model.evaluation().get() != null && c.history().model().runs().size() == 1);
        long reviewed = onFx(() -> model.images().stream().filter(ImageItem::reviewed).count());
        var first = onFx(() -> c.history().model().runs().get(0).record());
        System.out.println("FIRST photos=" + first.photos + " backbone_ran_on=" + first.backboneRanOn + " config="
                + first.config);
        System.out.println("STATE update_last_run=" + onFx(() -> model.updateLastRun().get()) + " stale="
                + onFx(() -> model.curvesStale().get()) + " resume_json="
                + Files.isRegularFile(ws.resolve("last-run").resolve("resume.json")) + " last_run_files="
                + files(ws.resolve("last-run")));
        System.out.println("RESTORED reviewed=" + reviewed + " exits=" + onFx(() -> model.exits().size())
                + " memo_files=" + files(ws.resolve("features")) + " review_points="
                + onFx(() -> c.review().model().history().size()));
        onFx(() -> {
            c.run().start();
            return null;
        });
        waitFor(() -> !model.running().get() && c.history().model().runs().size() == 2);
        var rec = onFx(() -> c.history().model().runs().get(0).record());
        System.out.println("RERUN photos=" + rec.photos + " backbone_ran_on=" + rec.backboneRanOn + " labels="
                + rec.labelsUsed + " update=" + rec.update + " config=" + rec.config);
        System.out.flush();
        System.exit(0);
    }

    private static long files(Path dir) throws java.io.IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).count();
        }
    }

    private static <T> T onFx(Callable<T> body) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        Platform.runLater(() -> {
            try {
                f.complete(body.call());
            } catch (Exception e) {
                f.completeExceptionally(e);
            }
        });
        return f.get();
    }

    private static void waitFor(Callable<Boolean> condition) throws Exception {
        long end = System.nanoTime() + 240_000_000_000L;
        while (!onFx(condition)) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("timed out");
            }
            Thread.sleep(100);
        }
    }
}
