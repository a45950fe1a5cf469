#!/usr/bin/env bash
# Install the Debian packages the project needs that are missing, and nothing else:
#   fonts-noto-cjk  Noto Sans CJK SC, for Chinese labels in the figures and the write-up (else tofu boxes)
#   chromium        headless Chromium, which prints the methodology write-up to PDF (report.build_methodology_pdf)
#   chromium-driver chromedriver for that Chromium: the JupyterLab browser test drives it (tests/test_lab.py)
#   libreoffice-calc-nogui  headless LibreOffice (soffice): the data-entry round trip saves workbooks through it
#                           as a researcher would (tests/test_entry_roundtrip.py)
#   libreoffice-writer-nogui, libreoffice-math-nogui  LibreOffice Writer and its formula module: the test of
#                           report.docx converts it to PDF as a reader's Word processor would (tests/test_docx.py;
#                           without the Math module the equations vanish)
# Other packages may be named as arguments instead: scripts/ensure_system_packages.sh fonts-noto-cjk
# Idempotent, and quick when everything is there (no apt-get update, no root needed). Uses apt-get as root,
# through sudo otherwise. After installing fonts it drops matplotlib's font list: a list cached before the
# font existed hides it.
set -euo pipefail

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(fonts-noto-cjk chromium chromium-driver libreoffice-calc-nogui
                                      libreoffice-writer-nogui libreoffice-math-nogui)

installed() {  # a package counts as present if dpkg has it, or (off Debian) its program or font is found
  if command -v dpkg-query >/dev/null 2>&1 &&
     [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; then
    return 0
  fi
  case "$1" in
    fonts-noto-cjk) fc-list 2>/dev/null | grep -q "Noto Sans CJK SC" ;;
    chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ;;
    chromium-driver) command -v chromedriver >/dev/null 2>&1 ;;
    libreoffice-calc-nogui) command -v soffice >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing system packages: ${missing[*]}. This is not a Debian/Ubuntu system: install the equivalents" \
       "(Noto Sans CJK SC font, Chromium and its chromedriver, LibreOffice Calc) with its package manager." >&2
  exit 1
fi
if [ "$(id -u)" = "0" ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "Missing system packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null

for package in "${missing[@]}"; do
  if [[ "$package" == fonts-* ]]; then
    # matplotlib keeps its font list in MPLCONFIGDIR if set, else in ~/.cache/matplotlib
    rm -f "${MPLCONFIGDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/matplotlib}"/fontlist-v*.json
    break
  fi
done
