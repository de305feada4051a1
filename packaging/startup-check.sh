#!/usr/bin/env bash
# Real-window start check: launches the lab exactly as its .desktop entry does (the Exec line, no file argument)
# on a virtual X display, samples the screen, and prints the seconds from launch to the first frame with content
# (more than 50 colours in the window; a blank window has one or two). Cold = a fresh home (no workspace, no
# engine-check cache), warm = the same home again. Prints the medians and fails above the limit.
#
# usage: packaging/startup-check.sh [DESKTOP_FILE] [RUNS] [LIMIT_SECONDS]
# needs: Xvfb, imagemagick (import, identify), xdotool is not needed
set -euo pipefail
desktop="${1:-/usr/share/applications/persephonee.desktop}"
runs="${2:-5}"
limit="${3:-6}"
[ -f "$desktop" ] || { echo "startup-check: no $desktop" >&2; exit 2; }
for tool in Xvfb import identify; do
  command -v "$tool" >/dev/null 2>&1 || { echo "startup-check: $tool is missing" >&2; exit 2; }
done
# the Exec line without its field codes (%f, %F, %u, %U)
exec_line="$(sed -n 's/^Exec=//p' "$desktop" | head -1 | sed 's/ %[fFuU]//g')"
[ -n "$exec_line" ] || { echo "startup-check: no Exec line in $desktop" >&2; exit 2; }

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
work="$(mktemp -d)"
app=""
stop_app() {
  if [ -n "$app" ]; then
    kill "$app" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$app" 2>/dev/null || true
    app=""
  fi
}
cleanup() { stop_app; kill "$xvfb" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1

# seconds from launch to the first sampled frame with content; the app is stopped afterwards
one_start() {
  local home="$1" t0 now el k
  t0=$(date +%s%N)
  HOME="$home" DISPLAY="$display" $exec_line >"$work/app.log" 2>&1 &
  app=$!
  el=""
  for _ in $(seq 1 200); do
    DISPLAY="$display" import -silent -window root "$work/s.png" 2>/dev/null || true
    now=$(date +%s%N)
    k=$(identify -format %k "$work/s.png" 2>/dev/null || echo 0)
    if [ "${k:-0}" -gt 50 ]; then
      el=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
      break
    fi
    sleep 0.05
  done
  # let the restore finish before the next start (a warm start then finds the saved workspace)
  sleep 4
  stop_app
  # the screen must be empty again before the next start is sampled
  sleep 1
  echo "${el:-timeout}"
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
cm=$(printf '%s\n' "${cold[@]}" | grep -v timeout | median)
wm=$(printf '%s\n' "${warm[@]}" | grep -v timeout | median)
echo
echo "startup-check: launch to first content, median of $runs: cold ${cm} s, warm ${wm} s (limit ${limit} s)"
bad=0
for v in "${cold[@]}" "${warm[@]}"; do
  if [ "$v" = timeout ]; then bad=1; fi
done
if [ "$bad" = 1 ] || awk -v c="$cm" -v w="$wm" -v l="$limit" 'BEGIN { exit !(c > l || w > l) }'; then
  echo "startup-check: FAILED (a start showed no content, or a median is above ${limit} s); last log:" >&2
  grep -v -e '^[[:space:]]*$' -e 'Could not initialize NNPACK' "$work/app.log" | tail -20 >&2
  exit 1
fi
