package org.persephonee.core.data;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code path,label} files: a person's {@code labels.csv} and the sample personas' {@code truth/*.csv}, read with
 * commons-csv.
 */
public final class LabelsCsv {
    private LabelsCsv() { }

    /** One row: the line it ends on, the path as written and the label (blank: none). */
    public record Row(long line, String path, String label) { }

    /**
     * The rows of a {@code labels.csv} (commons-csv: quoted fields, {@code #} comments, blank lines). A first row
     * naming a {@code path} column is a header: {@code path} and {@code label} are then read by name and other
     * columns ignored. Without one, the label is the last field and the path everything before it (an unquoted
     * path may hold commas). Rows that are not {@code path,label} and a parse error are reported in
     * {@code bad}; the rows before a parse error are kept.
     */
    public static List<Row> rows(String text, java.util.function.BiConsumer<Long, String> bad) {
        List<Row> rows = new ArrayList<>();
        CSVFormat format = CSVFormat.DEFAULT.builder().setCommentMarker('#').setIgnoreEmptyLines(true)
                .setIgnoreSurroundingSpaces(true).setTrim(true).get();
        int pathCol = -1;
        int labelCol = -1;
        try (CSVParser parser = CSVParser.parse(text, format)) {
            java.util.Iterator<CSVRecord> it = parser.iterator();
            while (true) {
                CSVRecord r;
                try {
                    if (!it.hasNext()) {
                        break;
                    }
                    r = it.next();
                } catch (java.io.UncheckedIOException | IllegalStateException e) {
                    bad.accept(parser.getCurrentLineNumber(), "cannot be parsed ("
                            + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage())
                            + "); the rest of the file is not read");
                    break;
                }
                long line = parser.getCurrentLineNumber();
                List<String> f = r.toList();
                if (r.getRecordNumber() == 1 && f.stream().anyMatch(x -> x.equalsIgnoreCase("path"))) {
                    for (int k = 0; k < f.size(); k++) {
                        if (f.get(k).equalsIgnoreCase("path")) {
                            pathCol = k;
                        } else if (f.get(k).equalsIgnoreCase("label") && labelCol < 0) {
                            labelCol = k;
                        }
                    }
                    if (labelCol < 0) {
                        labelCol = pathCol == 0 ? 1 : 0;
                    }
                    continue;
                }
                String path;
                String label;
                if (pathCol >= 0 && f.size() > Math.max(pathCol, labelCol)) {
                    path = f.get(pathCol);
                    label = f.get(labelCol);
                } else if (pathCol < 0 && f.size() >= 2) {
                    path = String.join(",", f.subList(0, f.size() - 1));
                    label = f.get(f.size() - 1);
                } else {
                    path = "";
                    label = "";
                }
                if (path.isBlank()) {
                    bad.accept(line, "expected 'path,label', got '" + String.join(",", f) + "'");
                    continue;
                }
                rows.add(new Row(line, path, label));
            }
        } catch (IOException e) {
            bad.accept(0L, "cannot be parsed (" + e.getMessage() + ")");
        }
        return rows;
    }


    /**
     * Every row of a UTF-8 file; the first row that is not {@code path,label} stops the read.
     *
     * @throws IOException when the file cannot be read, or with the line and what is wrong there
     */
    public static List<Row> read(Path csv) throws IOException {
        List<String> problems = new ArrayList<>();
        List<Row> rows = rows(Files.readString(csv, StandardCharsets.UTF_8), (line, why) -> problems.add("line " + line
                + ": " + why));
        if (!problems.isEmpty()) {
            throw new IOException(csv + ": " + problems.get(0));
        }
        return rows;
    }

    /**
     * Writes {@code path,label} rows (with that header) atomically: each path relative to the file's folder when the
     * image lies under it, absolute otherwise, so the import that reads the file back finds the same images. Rows are
     * sorted by path; a null label is left out.
     *
     * @return the rows written
     * @throws IOException when the file cannot be written (an earlier file of that name is then unchanged)
     */
    public static int write(Path csv, java.util.Map<Path, String> labels) throws IOException {
        Path dir = csv.toAbsolutePath().normalize().getParent();
        java.util.TreeMap<String, String> rows = new java.util.TreeMap<>();
        for (java.util.Map.Entry<Path, String> e : labels.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            Path p = e.getKey().toAbsolutePath().normalize();
            rows.put(p.startsWith(dir) ? dir.relativize(p).toString().replace('\\', '/') : p.toString(), e.getValue());
        }
        StringBuilder sb = new StringBuilder();
        try (org.apache.commons.csv.CSVPrinter out = new org.apache.commons.csv.CSVPrinter(sb,
                CSVFormat.DEFAULT.builder().setRecordSeparator("\n").get())) {
            out.printRecord("path", "label");
            for (java.util.Map.Entry<String, String> r : rows.entrySet()) {
                out.printRecord(r.getKey(), r.getValue());
            }
        }
        org.persephonee.core.util.AtomicFiles.writeString(csv, sb.toString());
        return rows.size();
    }
}
