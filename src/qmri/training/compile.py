"""When and how training compiles a RIM (``torch.compile``), with a cache per CPU capability."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from qmri.estimators.networks.rim import RIM
from qmri.training.settings import TrainSettings

#: the fewest iterations for which ``compile: auto`` compiles a RIM (``compiles_rim``)
COMPILE_MIN_ITERATIONS = 300


def compiles_rim(net: torch.nn.Module, device: torch.device, dtype: torch.dtype, settings: TrainSettings) -> bool:
    """Return whether training compiles ``net``'s recurrent cell and likelihood gradient (``compile_rim``): never
    for a ResNet; for a RIM as ``settings.compile`` says, where ``"auto"`` means float32 on a CPU for at least
    ``COMPILE_MIN_ITERATIONS`` iterations.

    Why: inductor fuses the GRUs' elementwise work and the gradient's passes over the N images, which makes a
    float32 CPU step faster once the compile time is paid back (docs: performance); the ResNet's step, the RIM's
    inference and bfloat16 autocast gained too little to compile.
    """
    if not isinstance(net, RIM) or settings.compile is False:
        return False
    return settings.compile is True or (device.type == "cpu" and dtype == torch.float32
                                        and settings.iterations >= COMPILE_MIN_ITERATIONS)


def inductor_cache_per_capability() -> Path:
    """Give inductor (``torch.compile``) a cache folder per torch CPU capability, and return it.

    Inductor's cache does not key on ``ATEN_CPU_CAPABILITY``: kernels it compiled with torch capped to AVX2 (how
    this project measures an AVX2-only CPU), loaded by a later uncapped run on an AVX-512 CPU, crashed that run
    with "double free or corruption". The folder is
    ``TORCHINDUCTOR_CACHE_DIR`` (inductor's default where unset) with the capability appended, once.
    """
    try:  # torch >= 2.4; its default is a folder per user in the temporary directory
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        def default_cache_dir() -> str:
            return os.path.join(tempfile.gettempdir(), "torchinductor")
    capability = torch.backends.cpu.get_cpu_capability()
    folder = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default_cache_dir()).absolute()
    if folder.name != capability:
        folder = folder / capability
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    return folder


def compile_rim(net: RIM) -> None:
    """Compile ``net``'s recurrent cell and likelihood gradient in place (``torch.compile`` of ``net.cell.forward``
    and ``net.gradient``, undone by ``uncompile_rim``): its weights and state-dict keys stay the module's."""
    inductor_cache_per_capability()
    net.cell.forward = torch.compile(net.cell.forward)
    net.gradient = torch.compile(net.gradient)


def uncompile_rim(net: RIM) -> None:
    """Undo ``compile_rim``."""
    del net.cell.forward, net.gradient
