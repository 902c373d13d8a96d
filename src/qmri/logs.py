"""Logging set-up shared by the pipeline scripts and the command line."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def logging_to(path: str | os.PathLike) -> Iterator[logging.Logger]:
    """Send logging records, warnings and stderr (tqdm bars, tracebacks) to ``path`` while inside.

    Every Snakemake script enters it through ``qmri.pipeline.rulejob.rule_job``, so each job has its own log file.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        old_stderr, sys.stderr = sys.stderr, stream
        try:
            yield logging.getLogger("qmri")
        except BaseException:
            logging.getLogger("qmri").exception("failed")
            raise
        finally:
            sys.stderr = old_stderr
            root.removeHandler(handler)
