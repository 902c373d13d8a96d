"""Training the paper's networks and ours (section 4.4.2): settings, batches, losses, the loop, fine-tuning and
checkpoints. The public names are importable from here."""

from qmri.training.batches import load_trainsets
from qmri.training.checkpoints import export_resume
from qmri.training.compile import COMPILE_MIN_ITERATIONS, compile_rim, compiles_rim, inductor_cache_per_capability
from qmri.training.loop import train
from qmri.training.losses import loss_function, masked_mse, physical_mse
from qmri.training.settings import TrainSettings

__all__ = ["COMPILE_MIN_ITERATIONS", "TrainSettings", "compile_rim", "compiles_rim", "export_resume",
           "inductor_cache_per_capability", "load_trainsets", "loss_function", "masked_mse", "physical_mse", "train"]
