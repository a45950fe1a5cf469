"""JupyterLab as the researchers' workbench: ``make lab`` runs ``python -m zoneindex.lab``.

It starts JupyterLab on 127.0.0.1 with the notebooks folder open, on the project's kernel ``zoneindex``
("Python 3 (zoneindex)", the virtual environment's Python, registered there if it is not yet), and prints
the URL to open. Running as root needs no extra flag. JupyterLab reaches nothing outside this machine: no
news feed, no update check, a read-only extension manager (it would list PyPI).

A notebook saved under ``notebooks/`` keeps no outputs, execution counts or widget state, and its kernel
metadata stays the project's (``clean_notebook``), so the committed notebooks stay diff-friendly;
``python -m zoneindex.lab --clean-notebooks`` does the same to notebooks edited elsewhere (VS Code …).

A notebook run here is a scratch run (``pipeline.open_run``): it writes only to ``scratch/<study>/<year>/``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
from pathlib import Path

from zoneindex import paths

KERNEL = "zoneindex"
DISPLAY_NAME = "Python 3 (zoneindex)"
KERNELSPEC = {"display_name": DISPLAY_NAME, "language": "python", "name": KERNEL}
HOST = "127.0.0.1"
DEFAULT_PORT = 8888
OPEN_FOLDER = "notebooks"
LEGACY_MATHJAX = "/static/lab/mathjax2-not-used.js"
# JupyterLab's own settings, fixed for this environment: never fetch news nor check for updates
SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def install(prefix: str | Path = sys.prefix) -> Path:
    """Register this Python as the kernel ``zoneindex`` in the environment ``prefix`` and fix JupyterLab's
    settings there; drop the generic ``python3`` kernel an earlier set-up registered under the same name."""
    import shutil

    from ipykernel.kernelspec import install as install_kernelspec

    kernels = Path(prefix) / "share" / "jupyter" / "kernels"
    stale = kernels / "python3" / "kernel.json"
    if stale.exists() and json.loads(stale.read_text(encoding="utf-8")).get("display_name") == DISPLAY_NAME:
        shutil.rmtree(stale.parent)
    overrides = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "zoneindex.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(SETTINGS, indent=2) + "\n", encoding="utf-8")
    return Path(install_kernelspec(kernel_name=KERNEL, display_name=DISPLAY_NAME, prefix=str(prefix)))


def installed(prefix: str | Path = sys.prefix) -> bool:
    """Whether ``install`` has run for this Python (the kernel there starts this very interpreter)."""
    spec = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    settings = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "zoneindex.json"
    if not (spec.exists() and settings.exists()):
        return False
    argv = json.loads(spec.read_text(encoding="utf-8")).get("argv") or [""]
    return Path(argv[0]).absolute() == Path(sys.executable).absolute()


# --- diff-friendly notebooks --------------------------------------------------------------------------

def clean_notebook(nb: dict) -> dict:
    """The notebook as committed: no outputs, execution counts or cell metadata but tags, and only the
    project's kernelspec and the language name as notebook metadata (widget state and versions go)."""
    for cell in nb.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags")
        cell["metadata"] = {"tags": tags} if tags else {}
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"] = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    return nb


def strip_before_save(model: dict, path: str, contents_manager=None, **kwargs) -> None:
    """jupyter_server pre-save hook: a notebook saved under ``notebooks/`` is saved clean."""
    if model.get("type") == "notebook" and path.strip("/").startswith(f"{OPEN_FOLDER}/") and model.get("content"):
        clean_notebook(model["content"])


def clean_notebooks(folder: Path = paths.NOTEBOOKS) -> list[Path]:
    """Clean every notebook of ``folder`` in place (as ``nbformat`` writes them); return the changed ones."""
    import nbformat

    changed = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        clean = nbformat.writes(clean_notebook(nbformat.reads(text, as_version=4))) + "\n"
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed.append(path)
    return changed


# --- the server ---------------------------------------------------------------------------------------

def free_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` if nothing listens there on 127.0.0.1, else a free port (0: always a free one)."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def lab_url(port: int, token: str) -> str:
    return f"http://{HOST}:{port}/lab/tree/{OPEN_FOLDER}?token={token}"


def server_arguments(port: int, token: str, root: Path = paths.PROJECT_ROOT) -> list[str]:
    """JupyterLab's command line: loopback only, this port or fail, the project's kernel, nothing fetched
    from outside, notebooks under notebooks/ saved clean."""
    return [
        f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}",
        f"--ServerApp.default_url=/lab/tree/{OPEN_FOLDER}", f"--IdentityProvider.token={token}",
        f"--MappingKernelManager.default_kernel_name={KERNEL}", f"--KernelSpecManager.allowed_kernelspecs={KERNEL}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # JupyterLab 4 draws formulas with its own MathJax 3; the page still names a MathJax 2 URL (a CDN by default)
        f"--ServerApp.tornado_settings=mathjax_url={LEGACY_MATHJAX}",
        "--ContentsManager.pre_save_hook=zoneindex.lab.strip_before_save",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoneindex.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one if it is taken; 0: a free one)")
    parser.add_argument("--token", default=None, help="the access token (default: a new random one)")
    parser.add_argument("--install", action="store_true", help="register the kernel and settings, then exit")
    parser.add_argument("--clean-notebooks", action="store_true",
                        help="strip outputs and metadata from the notebooks under notebooks/, then exit")
    args = parser.parse_args(argv)
    if args.clean_notebooks:
        for path in clean_notebooks():
            print(f"cleaned: {path}")
        return 0
    if args.install or not installed():
        print(f"kernel {KERNEL!r} ({DISPLAY_NAME}): {install()}")
        if args.install:
            return 0
    from jupyterlab.labapp import LabApp

    port, token = free_port(args.port), args.token or secrets.token_urlsafe(24)
    print(f"JupyterLab, kernel {DISPLAY_NAME}: {lab_url(port, token)}\n"
          "(notebooks run here write only to scratch/; stop with Ctrl-C)", flush=True)
    LabApp.launch_instance(argv=server_arguments(port, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
