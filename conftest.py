"""Test runs, nbval included, write their outputs to a temporary out-root, never over a real run's."""
import os
import tempfile

from zoneindex.paths import OUT_ROOT_ENV


def pytest_configure(config):
    # nbval starts the notebook kernels from this process, so they inherit the variable.
    if not os.environ.get(OUT_ROOT_ENV):
        os.environ[OUT_ROOT_ENV] = tempfile.mkdtemp(prefix="zoneindex-test-")
