"""Networks as estimators. Importing this package does not import torch (the workflow reads ``packaged_weights``
at parse time)."""

from pathlib import Path

#: our RIM's packaged checkpoints and model cards, one of each per task
WEIGHTS = Path(__file__).parent / "weights"


def packaged_weights(task: str) -> Path:
    """Return where the packaged checkpoint of our RIM (``arim``) for ``task`` lives; its model card is the JSON beside it."""
    return WEIGHTS / f"arim-{task}.pt"
