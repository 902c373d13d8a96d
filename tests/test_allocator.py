"""The C allocator keeps freed tensor memory (``qmri.allocator``)."""

import ctypes
import os
import subprocess
import sys

import pytest

from qmri.allocator import USER_SETTINGS, keep_freed_memory

#: four 10 MB blocks allocated, written and freed, five times; prints the page faults of the last four rounds
ROUNDS = """
import resource, sys
import numpy as np
from qmri.allocator import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "keep" else None)
def round_():
    blocks = [np.ones(10 * 2**20 // 8) for _ in range(4)]
    del blocks
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _rounds(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k not in USER_SETTINGS}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"),
                    reason="glibc only")
def test_freed_blocks_are_not_faulted_in_again():
    # glibc alone hands some of the 40 MB back each round (8,160 faults of 4 kB pages in four rounds, glibc 2.36)
    taken, kept = _rounds("keep")
    _, default = _rounds("default")
    assert taken == "True"
    assert default > 2 * 10 * 2**20 // 4096
    assert kept < default / 20


def test_users_malloc_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert keep_freed_memory() is False
