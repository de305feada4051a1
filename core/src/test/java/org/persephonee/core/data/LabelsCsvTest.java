package org.persephonee.core.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code labels.csv} as spreadsheets and scripts write it: quoting, headers, comments, stray columns, damage. */
class LabelsCsvTest {
    private final List<String> bad = new ArrayList<>();

    private List<LabelsCsv.Row> rows(String text) {
        return LabelsCsv.rows(text, (line, why) -> bad.add(line + ": " + why));
    }

    @Test
    void quotedFieldsCommentsAndBlankLinesKeepTheirLineNumbers() {
        List<LabelsCsv.Row> r = rows("path,label\n# my photos\n\n\"a, b.png\",\"T-shirt/top\"\n c.png , bag \n");
        assertEquals(List.of(new LabelsCsv.Row(4, "a, b.png", "T-shirt/top"),
                new LabelsCsv.Row(5, "c.png", "bag")), r);
        assertTrue(bad.isEmpty(), bad.toString());
    }

    @Test
    void aHeaderNamesTheColumnsAndExtraColumnsAreIgnored() {
        // the sample personas' truth files carry a third column; a header may list label first
        assertEquals(List.of(new LabelsCsv.Row(2, "u/p0.png", "Bag")), rows("path,label,source_index\nu/p0.png,Bag,5867\n"));
        assertEquals(List.of(new LabelsCsv.Row(2, "u/p0.png", "Bag")), rows("label,path\nBag,u/p0.png\n"));
        assertTrue(bad.isEmpty(), bad.toString());
    }

    @Test
    void withoutAHeaderTheLabelIsTheLastFieldAndAnUnquotedPathMayHoldCommas() {
        assertEquals(List.of(new LabelsCsv.Row(1, "holiday,beach.png", "bag"),
                new LabelsCsv.Row(2, "x.png", "")), rows("holiday,beach.png,bag\nx.png,\n"));
    }

    @Test
    void aRowWithoutALabelColumnAndAnUnclosedQuoteAreReportedWithTheirLines() {
        List<LabelsCsv.Row> r = rows("path,label\na.png,bag\nno comma here\nb.png,dress\n\"c.png,coat\n");
        assertEquals(List.of("a.png", "b.png"), r.stream().map(LabelsCsv.Row::path).toList());
        assertTrue(bad.get(0).startsWith("3: expected 'path,label', got 'no comma here'"), bad.toString());
        assertTrue(bad.get(1).contains("cannot be parsed") && bad.get(1).contains("the rest of the file is not read"),
                bad.toString());
    }
}
