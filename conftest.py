"""Test runs, nbval included, write their outputs to a temporary out-root, never over a real run's, and keep the
font subsets of their PDF figures in a temporary folder of their own (shared by every worker and run of the
session), never in the user's cache."""
import os
import tempfile

from zoneindex.paths import FONT_CACHE_ENV, OUT_ROOT_ENV


def pytest_configure(config):
    # nbval starts the notebook kernels from this process, so they inherit the variable.
    if not os.environ.get(OUT_ROOT_ENV):
        os.environ[OUT_ROOT_ENV] = tempfile.mkdtemp(prefix="zoneindex-test-")
    if not os.environ.get(FONT_CACHE_ENV):
        os.environ[FONT_CACHE_ENV] = tempfile.mkdtemp(prefix="zoneindex-test-font-subsets-")
