#!/bin/sh
# Before anything is installed (make run, make lab, make test): the Python that builds the virtual environment
# must be one the project supports (pyproject.toml: requires-python), and a .venv built by another Python is
# removed so that it is built again. Arguments: the Python command (make's PYTHON) and the venv folder.
python=${1:-python3}
venv=${2:-.venv}
# requires-python = ">=3.11,<3.12" in pyproject.toml: the one minor version supported
supported=$(sed -n 's/^requires-python *= *">=\([0-9]*\.[0-9]*\),.*/\1/p' pyproject.toml 2>/dev/null)
supported=${supported:-3.11}

if ! command -v "$python" >/dev/null 2>&1; then
  echo "make: $python not found. This project needs Python $supported: install it (Debian: apt-get install" \
       "python$supported python$supported-venv) and run e.g. make run PYTHON=python$supported" >&2
  exit 1
fi
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
if [ -z "$version" ]; then
  echo "make: $python does not run (a pyenv shim of a version that is not installed?). This project needs" \
       "Python $supported: run e.g. make run PYTHON=python$supported" >&2
  exit 1
fi
if [ "$version" != "$supported" ]; then
  echo "make: $python is Python $version, but this project supports Python $supported only (pyproject.toml:" \
       "requires-python): run e.g. make run PYTHON=python$supported" >&2
  exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "make: $python cannot create virtual environments: install python$supported-venv (Debian) and run again" >&2
  exit 1
fi
if [ -e "$venv" ]; then
  built=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
  if [ "$built" != "$supported" ]; then
    echo "make: $venv was built by ${built:+Python }${built:-a Python that is gone}: removing it to build it again" \
         "with $python" >&2
    rm -rf "$venv"
  fi
fi
