#!/usr/bin/env bash
# Real-window start check: launches the lab exactly as its .desktop entry does (the Exec line, no file argument)
# on a virtual X display, samples the screen, and prints the seconds from launch to the first frame with content
# (more than 50 colours in the window; a blank window has one or two). Cold = a fresh home (no workspace, no
# engine-check cache), warm = the same home again. Prints the medians and fails above the limit.
#
# usage: packaging/startup-check.sh [DESKTOP_FILE] [RUNS] [LIMIT_SECONDS]
# needs: Xvfb and a JDK (the screen is sampled by packaging/StartupSampler.java)
set -euo pipefail
desktop="${1:-/usr/share/applications/persephonee.desktop}"
runs="${2:-5}"
limit="${3:-6}"
[ -f "$desktop" ] || { echo "startup-check: no $desktop" >&2; exit 2; }
for tool in Xvfb javac java; do
  command -v "$tool" >/dev/null 2>&1 || { echo "startup-check: $tool is missing" >&2; exit 2; }
done
# the Exec line without its field codes (%f, %F, %u, %U)
exec_line="$(sed -n 's/^Exec=//p' "$desktop" | head -1 | sed 's/ %[fFuU]//g')"
[ -n "$exec_line" ] || { echo "startup-check: no Exec line in $desktop" >&2; exit 2; }

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
work="$(mktemp -d)"
cleanup() { kill "$xvfb" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1

# seconds from launch to the first sampled frame with content; the app is stopped afterwards (after 4 s, so
# that the restore has saved the workspace a warm start then finds)
javac -d "$work/sampler" "$(dirname "$0")/StartupSampler.java"
one_start() {
  HOME="$1" DISPLAY="$display" java -cp "$work/sampler" StartupSampler "$work/app.log" 4 $exec_line
  # the screen must be empty again before the next start is sampled
  sleep 1
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "none"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cold=(); warm=()
for r in $(seq 1 "$runs"); do
  home="$work/home-$r"
  mkdir -p "$home"
  c=$(one_start "$home")
  w=$(one_start "$home")
  echo "startup-check: run $r: cold ${c} s, warm ${w} s"
  cold+=("$c"); warm+=("$w")
done
cm=$(printf '%s\n' "${cold[@]}" | grep -v -e timeout -e exited | median)
wm=$(printf '%s\n' "${warm[@]}" | grep -v -e timeout -e exited | median)
echo
echo "startup-check: launch to first content, median of $runs: cold ${cm} s, warm ${wm} s (limit ${limit} s)"
bad=0
for v in "${cold[@]}" "${warm[@]}"; do
  case "$v" in timeout|exited) bad=1 ;; esac
done
if [ "$bad" = 1 ] || awk -v c="$cm" -v w="$wm" -v l="$limit" 'BEGIN { exit !(c > l || w > l) }'; then
  echo "startup-check: FAILED (a start showed no content, or a median is above ${limit} s); last log:" >&2
  grep -v -e '^[[:space:]]*$' -e 'Could not initialize NNPACK' "$work/app.log" | tail -20 >&2
  exit 1
fi
