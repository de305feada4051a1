#!/usr/bin/env bash
# Adds (or with --uninstall removes) the lab's menu entry and icon for the current user, pointing at the
# app image built by `mvn -B -Pdist -DskipTests package` (dist/persephonee/bin/persephonee).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$apps/persephonee.desktop" "$icons/persephonee.png"
  echo "removed the PersEPhonEE Lab menu entry"
  exit 0
fi
bin="$here/dist/persephonee/bin/persephonee"
[ -x "$bin" ] || { echo "build the app image first: mvn -B -Pdist -DskipTests package" >&2; exit 1; }
mkdir -p "$apps" "$icons"
cp "$here/packaging/persephonee.png" "$icons/persephonee.png"
sed "s|@BIN@|$bin|" "$here/packaging/persephonee.desktop" > "$apps/persephonee.desktop"
chmod +x "$apps/persephonee.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
echo "installed $apps/persephonee.desktop (Exec=$bin)"
