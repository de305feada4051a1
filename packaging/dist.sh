#!/usr/bin/env bash
# Builds the self-contained app image (and a .deb where dpkg-deb and fakeroot exist) with jpackage.
# Called by `mvn -B -Pdist -DskipTests package` after the app jar and its libraries are in app/target.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$here/app/target"
stage="$app/jpackage-input"
dist="$here/dist"
version="${1:-0.1.0}"
version="${version%%-*}"   # jpackage wants digits and dots only

jpackage_bin="${JAVA_HOME:+$JAVA_HOME/bin/}jpackage"
command -v "$jpackage_bin" >/dev/null 2>&1 || jpackage_bin=jpackage
command -v "$jpackage_bin" >/dev/null 2>&1 || { echo "dist: jpackage (JDK 17+) not found" >&2; exit 1; }

rm -rf "$stage" "$dist/persephonee"
mkdir -p "$stage" "$dist"
cp "$app/persephonee-app.jar" "$stage/"
cp "$app"/lib/*.jar "$stage/"
# the sample backbone and personas travel with the image (first start opens them)
cp -r "$here/sample-models" "$here/sample-data" "$stage/"
# export-torchscript runs this with the system's PyTorch
mkdir -p "$stage/tools" && cp "$here/tools/export-torchscript.py" "$stage/tools/"
# the menu entry template (Exec=@BIN@); the .deb's postinst fills in /opt/persephonee/bin/persephonee
cp "$here/packaging/persephonee.desktop" "$stage/"
# class-data sharing for the lab's start: the class list and the script that dumps the archive where the app lives
cp "$here/packaging/lab-classes.lst" "$here/packaging/cds-dump.sh" "$stage/"

meta=(--name persephonee --app-version "$version" --vendor "PersEPhonEE Lab"
  --description "Early-exit CNN personalisation lab")
common=("${meta[@]}" --input "$stage" --main-jar persephonee-app.jar --main-class org.persephonee.app.Launcher
  --icon "$here/packaging/persephonee.png"
  --java-options "-Dpersephonee.home=\$APPDIR -Dai.djl.offline=true -DOPT_OUT_TRACKING=true -Xss4m"
  --java-options "-XX:SharedArchiveFile=\$APPDIR/persephonee.jsa -Xshare:auto"
  --java-options "-XX:+UseTransparentHugePages -Xlog:pagesize=off"
  --java-options "-XX:TieredStopAtLevel=1"
  --add-modules java.base,java.desktop,java.logging,java.management,java.naming,java.prefs,java.scripting,java.sql,java.xml,jdk.unsupported,jdk.jfr,java.net.http,jdk.zipfs
  --jlink-options "--strip-debug --no-man-pages --no-header-files")

"$jpackage_bin" --type app-image --dest "$dist" "${common[@]}"
echo "dist: app image at $dist/persephonee ($(du -sh "$dist/persephonee" | cut -f1))"

if command -v dpkg-deb >/dev/null 2>&1 && command -v fakeroot >/dev/null 2>&1; then
  rm -f "$dist"/persephonee_*.deb
  # The .deb packs the app image above (no second jlink). No --linux-shortcut and no --icon here: either
  # makes jpackage add its own menu entry, whose scripts call xdg-desktop-menu (exits 3 on a minimal
  # Debian, leaving dpkg half-configured) and make the package depend on xdg-utils. packaging/deb/postinst
  # and prerm copy the menu entry and icon (already in the image) instead, never failing the install.
  "$jpackage_bin" --type deb --dest "$dist" --app-image "$dist/persephonee" "${meta[@]}" --install-dir /opt \
    --resource-dir "$here/packaging/deb" --linux-app-category science
  deb="$(ls "$dist"/persephonee_*.deb)"
  # jpackage falls back to its own scripts silently when it does not find ours: refuse such a package
  case "$(dpkg-deb -I "$deb" postinst)" in *persephonee.desktop*) ;;
    *) echo "dist: $deb does not carry packaging/deb/postinst" >&2; exit 1 ;; esac
  case "$(dpkg-deb -f "$deb" Depends)" in *xdg-utils*)
    echo "dist: $deb depends on xdg-utils (jpackage added its own menu entry)" >&2; exit 1 ;; esac
  echo "dist: $deb ($(du -h "$deb" | cut -f1))"
else
  echo "dist: dpkg-deb or fakeroot missing, no .deb built"
fi

# the class-data archive for this app image (after the .deb, which must not carry it: the archive is bound to
# the class path it was dumped with, so the .deb's postinst dumps its own under /opt/persephonee)
sh "$dist/persephonee/lib/app/cds-dump.sh" "$dist/persephonee/lib/app" || echo "dist: no class-data archive (the lab starts slower)"
