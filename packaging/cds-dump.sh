#!/bin/sh
# Class-data sharing for the lab's start: dumps the classes a lab start loads (lab-classes.lst, taken from a real
# start) into one archive the JVM maps instead of reading and verifying ~6,800 classes from the jars: the first
# frame comes about a second sooner on two cores. JDK 17 ties the archive to the exact class path, so it is
# dumped where the app lives: by dist.sh for the app image, by the .deb's postinst for /opt/persephonee.
# A missing or stale archive is harmless (-Xshare:auto: the JVM loads from the jars as before).
#
# usage: cds-dump.sh APP_DIR   (APP_DIR = the app image's lib/app, holding persephonee.cfg and the jars)
set -eu
appdir="$1"
java="$appdir/../runtime/bin/java"
cfg="$appdir/persephonee.cfg"
list="$appdir/lab-classes.lst"
[ -x "$java" ] && [ -f "$cfg" ] && [ -f "$list" ] || { echo "cds-dump: $appdir is not a persephonee app image" >&2; exit 1; }
# the launcher's class path: the cfg's app.classpath lines in order, $APPDIR filled in
cp="$(sed -n 's/^app\.classpath=//p' "$cfg" | sed "s|\\\$APPDIR|$appdir|" | paste -sd: -)"
rm -f "$appdir/persephonee.jsa"
"$java" -Xshare:dump -XX:SharedClassListFile="$list" -XX:SharedArchiveFile="$appdir/persephonee.jsa" \
  -Xlog:cds=off -Xlog:cds+dynamic=off -cp "$cp" >/dev/null 2>&1
echo "cds-dump: $appdir/persephonee.jsa ($(du -h "$appdir/persephonee.jsa" | cut -f1))"
