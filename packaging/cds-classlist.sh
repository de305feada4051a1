#!/usr/bin/env bash
# Regenerates packaging/lab-classes.lst, the classes a lab start loads (for packaging/cds-dump.sh): starts the
# lab on a virtual display with the sample workspace, lets it restore, and keeps the JVM's loaded-class list.
# usage: packaging/cds-classlist.sh   (after mvn install; needs Xvfb)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
display=":$((80 + RANDOM % 9))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
HOME="$work" DISPLAY="$display" java -XX:DumpLoadedClassList="$work/lab.lst" -Dai.djl.offline=true \
  -Dpersephonee.home="$here" -cp "$here/app/target/persephonee-app.jar:$here/app/target/lib/*" \
  org.persephonee.app.Launcher >/dev/null 2>&1 &
lab=$!
sleep "${1:-25}"
kill "$lab"; wait "$lab" 2>/dev/null || true
grep -v '^#' "$work/lab.lst" > "$here/packaging/lab-classes.lst"
echo "cds-classlist: $(wc -l < "$here/packaging/lab-classes.lst") classes in packaging/lab-classes.lst"
