package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Photo files decoded by an earlier run are taken from the cache, exactly; anything doubtful is decoded again. */
class DecodeCacheTest {
    @TempDir
    Path tmp;

    private static List<Path> photos(Path persona) throws java.io.IOException {
        try (Stream<Path> s = Files.walk(persona)) {
            return s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
    }

    private static InputSpec spec() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            return bb.input();
        }
    }

    @Test
    void aSecondRunTakesEveryPhotoFromTheCacheAndAChangedFileIsDecodedAgain() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("p"), new int[] {0, 1}, 3, 4, 2, 11);
        List<Path> photos = photos(persona);
        InputSpec spec = spec();
        Path memo = tmp.resolve("memo");
        DecodeCache first = DecodeCache.open(memo, spec);
        for (Path p : photos) {
            assertArrayEquals(ImageDecoder.decode(p, spec), first.decode(p));
        }
        assertEquals(0, first.hits());
        first.save();

        DecodeCache second = DecodeCache.open(memo, spec);
        for (Path p : photos) {
            assertArrayEquals(ImageDecoder.decode(p, spec), second.decode(p), "exactly the decoded floats: " + p);
        }
        assertEquals(photos.size(), second.hits(), "every photo from the cache");

        // the same name with other content is another photo
        Files.copy(photos.get(1), photos.get(0), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.write(photos.get(2), "not an image".getBytes());
        DecodeCache third = DecodeCache.open(memo, spec);
        assertArrayEquals(ImageDecoder.decode(photos.get(1), spec), third.decode(photos.get(0)));
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> third.decode(photos.get(2)));
        assertTrue(e.getMessage().contains(photos.get(2).getFileName().toString()), e.getMessage());
    }

    @Test
    void aDamagedCacheFileIsIgnoredAndRewritten() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("q"), new int[] {0}, 2, 0, 1, 12);
        List<Path> photos = photos(persona);
        InputSpec spec = spec();
        Path memo = tmp.resolve("memo");
        Path file = written(memo, photos, spec);
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        DecodeCache damaged = DecodeCache.open(memo, spec);
        assertArrayEquals(ImageDecoder.decode(photos.get(0), spec), damaged.decode(photos.get(0)));
        assertEquals(0, damaged.hits(), "nothing trusted from a truncated file");
        damaged.save();
        DecodeCache again = DecodeCache.open(memo, spec);
        assertArrayEquals(ImageDecoder.decode(photos.get(0), spec), again.decode(photos.get(0)));
        assertEquals(1, again.hits(), "the rewritten file is read again");
    }

    @Test
    void aCacheFileWithOneWrongByteIsNotTrustedAndAFailedWriteSaysWhy() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("r"), new int[] {0}, 2, 0, 1, 12);
        List<Path> photos = photos(persona);
        InputSpec spec = spec();
        Path memo = tmp.resolve("memo-r");
        Path file = written(memo, photos, spec);
        byte[] bytes = Files.readAllBytes(file);
        // one pixel's float changed, the length right: before the checksum this photo came back brighter
        bytes[bytes.length - 40] ^= 0x40;
        Files.write(file, bytes);
        DecodeCache damaged = DecodeCache.open(memo, spec);
        float[] x = damaged.decode(photos.get(photos.size() - 1));
        assertArrayEquals(ImageDecoder.decode(photos.get(photos.size() - 1), spec), x);
        assertEquals(0, damaged.hits(), "nothing trusted from a damaged file");
        // the memo folder replaced by a file: the write fails, and the run learns why instead of nothing
        Path blocked = tmp.resolve("blocked");
        Files.writeString(blocked, "not a folder");
        DecodeCache cannot = DecodeCache.open(blocked.resolve("memo"), spec);
        cannot.decode(photos.get(0));
        String why = cannot.save();
        assertTrue(why != null && why.contains("not kept for the next run"), String.valueOf(why));
    }

    /** Decodes every photo through a cache under {@code memo}, saves it, and gives its file. */
    private static Path written(Path memo, List<Path> photos, InputSpec spec) throws Exception {
        DecodeCache c = DecodeCache.open(memo, spec);
        for (Path p : photos) {
            c.decode(p);
        }
        assertEquals(null, c.save(), "written");
        try (Stream<Path> s = Files.list(memo)) {
            return s.filter(p -> p.getFileName().toString().startsWith("decoded-")).findFirst().orElseThrow();
        }
    }
}
