"""What every pipeline script does first: torch on the job's threads, logging to the job's log file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from qmri.allocator import keep_freed_memory
from qmri.logs import logging_to


@contextmanager
def rule_job(smk: Any) -> Iterator[logging.Logger]:
    """Run a Snakemake script job (``smk`` is its ``snakemake`` object) inside ``logging_to(smk.log[0])``.

    torch uses the job's ``threads`` and no more: by default it takes every core, so two one-thread jobs
    side by side would each start a thread per core and both run several times slower. Freed tensor memory
    stays with the process (``qmri.allocator``).
    """
    keep_freed_memory()
    torch.set_num_threads(smk.threads)
    with logging_to(smk.log[0]) as log:
        yield log
