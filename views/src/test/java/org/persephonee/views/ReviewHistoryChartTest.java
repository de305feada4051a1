package org.persephonee.views;

import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import org.jfree.chart.fx.ChartViewer;
import org.jfree.data.Range;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testfx.api.FxToolkit;
import org.testfx.util.WaitForAsyncUtils;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Review tab's chart of accuracy against the labelled photos each run had. Seen in the lab after "Compare label
 * regimes" on night-owl (runs with 0, 47 and 59 labels): the run without labels was drawn on the axis line, half of
 * its marker and its whisker cut off.
 */
class ReviewHistoryChartTest {

    @BeforeAll
    static void toolkit() throws Exception {
        FxToolkit.registerPrimaryStage();
    }

    @Test
    void theRunWithoutLabelsIsDrawnInsideThePlotNotOnItsAxis() throws Exception {
        ObservableList<ReviewModel.Point> history = FXCollections.observableArrayList();
        ChartViewer viewer = WaitForAsyncUtils.asyncFx(() -> ReviewPane.historyChart(history)).get(30, TimeUnit.SECONDS);
        WaitForAsyncUtils.asyncFx(() -> history.addAll(
                new ReviewModel.Point(0, 0, 0.725, "test", 400),
                new ReviewModel.Point(47, 0, 0.893, "test", 400),
                new ReviewModel.Point(59, 0, 0.89, "test", 400))).get(30, TimeUnit.SECONDS);
        Range x = viewer.getChart().getXYPlot().getDomainAxis().getRange();
        Range y = viewer.getChart().getXYPlot().getRangeAxis().getRange();
        for (ReviewModel.Point p : history) {
            assertTrue(x.getLowerBound() < p.labels() && p.labels() < x.getUpperBound(),
                    "the run with " + p.labels() + " labels is inside the plot, not on its edge: " + x);
            assertTrue(y.contains(100 * p.accuracy()), "its accuracy is inside the accuracy axis " + y);
        }
    }
}
