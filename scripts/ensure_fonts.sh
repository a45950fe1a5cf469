#!/usr/bin/env bash
# Chinese labels need Noto Sans CJK SC (Debian package fonts-noto-cjk). Install it when it is missing,
# then drop matplotlib's font cache: a cache written before the font existed hides it (tofu boxes).
set -euo pipefail
if fc-list 2>/dev/null | grep -q "Noto Sans CJK SC"; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-cjk fontconfig >/dev/null
else
  echo "Install the Noto Sans CJK SC font (fonts-noto-cjk) with your system's package manager." >&2
  exit 1
fi
rm -rf "${MPLCONFIGDIR:-$HOME/.cache/matplotlib}"
