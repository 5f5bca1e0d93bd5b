import os
import sys

import pytest

import stele


@pytest.fixture
def log(tmp_path):
    with stele.open(tmp_path / "log", security_interval=0.05) as lg:
        yield lg


def run_python(code: str, cwd, env=None):
    """Runs code in a fresh interpreter with the package importable."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)
