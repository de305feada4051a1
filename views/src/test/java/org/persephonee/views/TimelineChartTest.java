package org.persephonee.views;

import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import org.jfree.chart.fx.ChartViewer;
import org.jfree.data.Range;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.persephonee.core.workspace.RunHistory;
import org.persephonee.core.workspace.RunRecord;
import org.testfx.api.FxToolkit;
import org.testfx.util.WaitForAsyncUtils;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Review tab's timeline shows every kept run's accuracy. Seen in the lab: after "Compare label regimes" on
 * night-owl (89.3 / 72.5 / 89.0 / 89.3 %), the tab opened with its accuracy axis at 84-94 %, so the run without
 * labels was a line falling off the bottom of the plot.
 */
class TimelineChartTest {

    @BeforeAll
    static void toolkit() throws Exception {
        FxToolkit.registerPrimaryStage();
    }

    @Test
    void everyKeptRunIsInsideTheAccuracyAxisWhenTheTabOpensAfterTheRuns() throws Exception {
        ObservableList<RunHistory.Entry> runs = FXCollections.observableArrayList();
        double[] accuracy = {0.8925, 0.725, 0.89, 0.8925};
        for (int i = 0; i < accuracy.length; i++) {
            runs.add(0, entry(i + 1, accuracy[i]));
        }
        ChartViewer viewer = WaitForAsyncUtils.asyncFx(() -> new TimelineChart(runs).viewer()).get(30, TimeUnit.SECONDS);
        assertShown(viewer, runs);

        // a later run far under the others, past the four runs the axis spans at first
        WaitForAsyncUtils.asyncFx(() -> {
            runs.add(0, entry(5, 0.91));
            runs.add(0, entry(6, 0.40));
        }).get(30, TimeUnit.SECONDS);
        assertShown(viewer, runs);
    }

    private static void assertShown(ChartViewer viewer, ObservableList<RunHistory.Entry> runs) {
        Range y = viewer.getChart().getXYPlot().getRangeAxis(0).getRange();
        Range x = viewer.getChart().getXYPlot().getDomainAxis().getRange();
        for (RunHistory.Entry e : runs) {
            assertTrue(y.contains(100 * e.record().accuracy), "run " + e.number() + " at "
                    + 100 * e.record().accuracy + " % is inside the accuracy axis " + y);
            assertTrue(x.contains(e.number()), "run " + e.number() + " is inside the run axis " + x);
        }
    }

    private static RunHistory.Entry entry(int number, double accuracy) {
        RunRecord r = new RunRecord();
        r.accuracy = accuracy;
        r.seconds = 1.0;
        return new RunHistory.Entry(number, r);
    }
}
