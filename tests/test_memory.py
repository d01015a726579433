"""Arrow's memory pool chosen per process (`audit_kit.memory.use_pool`), each case in a fresh interpreter so that
the test process's pool is untouched."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import pyarrow as pa\nfrom audit_kit.memory import use_pool\nuse_pool({backend!r})\n"
         "print(pa.default_memory_pool().backend_name)")


def backend_after(backend: str, env_pool: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    done = subprocess.run([sys.executable, "-c", PROBE.format(backend=backend)], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize("backend", ["system", "jemalloc"])
def test_the_pool_asked_for_is_used(backend):
    import pyarrow as pa

    if backend not in pa.supported_memory_backends():
        pytest.skip(f"pyarrow built without {backend}")
    assert backend_after(backend) == backend


def test_a_pool_chosen_by_the_environment_is_kept():
    assert backend_after("jemalloc", env_pool="system") == "system"
