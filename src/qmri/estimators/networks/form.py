"""How a paper-form network is built, fed and trained: every difference between the paper's text, its authors'
code (EMCqMRI 1.1.17 on PyPI) and ours is a switch of ``NetworkForm``.

``VARIANTS`` groups them: ``ours`` is this project's form; ``authors`` follows the authors' code, which is the
reference where the paper's text is silent and wins where the two disagree (the cell's activation: the text
says tanh, the code uses ReLU). A config picks a variant and may override single switches
(``training.<method>.variant`` and ``.form``); the checkpoint records the resolved form, so inference builds
and feeds the network as it was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from qmri.errors import QmriError


@dataclass(frozen=True)
class NetworkForm:
    """One setting per implementation choice; each field's first option is ours, the second the authors'."""

    #: the RIM cell's activation after its 3 x 3 convolutions: "tanh" (the paper's text, ours) or "relu" (the
    #: authors' code)
    activation: str = "tanh"
    #: the likelihood gradient fed to the RIM: "network" (``J^T (f - S) / N`` in network units, ours) or "physical"
    #: (``2 J^T (f - S)`` with respect to A, B and T in seconds: the gradient of the authors' sum of squares)
    gradient: str = "network"
    #: the units a network estimates in: "network" (A / s, (B - 2) / 0.12, log(T / 1 s); a RIM adds its update)
    #: or "physical" (A / s, B, T in seconds; a RIM's estimate is ``|kappa + delta|``, a ResNet's output is read
    #: through ``|.|`` as the authors' signal model reads every parameter)
    units: str = "network"
    #: the images' divisor: "percentile" (99th percentile of the maximum intensity projection, ours) or "max"
    #: (the series' maximum, the authors')
    normalisation: str = "percentile"
    #: the training loss: "network" (MSE over the object's pixels in network units, ours) or "physical" (MSE over
    #: every pixel in A / s, B, T in seconds, the authors')
    loss: str = "network"
    #: initial weights: "kaiming" (Kaiming normal, zero biases, a RIM's last convolution zero: ours) or "torch"
    #: (torch's defaults, the authors')
    init: str = "kaiming"
    #: the ResNet's BatchNorm at inference: "running" (running statistics of training, ours) or "batch" (the
    #: statistics of the image being mapped, ``track_running_stats=False``, the authors')
    batchnorm: str = "running"

    def __post_init__(self):
        for f in fields(self):
            options = OPTIONS[f.name]
            if getattr(self, f.name) not in options:
                raise QmriError(f"network form: {f.name} must be {' or '.join(options)}, got {getattr(self, f.name)!r}")

    def differences(self, other: NetworkForm | None = None) -> dict[str, str]:
        """Return ``{switch: value}`` of the switches set otherwise than in ``other`` (default: ours)."""
        base = asdict(other or NetworkForm())
        return {k: v for k, v in asdict(self).items() if v != base[k]}


#: each switch's options: ours first, then the authors'
OPTIONS = {"activation": ("tanh", "relu"), "gradient": ("network", "physical"), "units": ("network", "physical"),
           "normalisation": ("percentile", "max"), "loss": ("network", "physical"), "init": ("kaiming", "torch"),
           "batchnorm": ("running", "batch")}

#: this project's form
OURS = NetworkForm()
#: the named variants: this project's form and the authors' code's
VARIANTS = {"ours": OURS, "authors": NetworkForm(**{k: v[1] for k, v in OPTIONS.items()})}


def settings_form(settings: dict) -> NetworkForm:
    """Return the form that training ``settings`` (a ``TrainSettings`` as a dict, a checkpoint's or a config's)
    name; settings without a variant are ours (checkpoints made before the switches existed)."""
    return network_form(settings.get("variant", "ours"), settings.get("form"))


def network_form(variant: str = "ours", overrides: dict[str, str] | None = None) -> NetworkForm:
    """Return the form of ``variant`` (``VARIANTS``) with single switches ``overrides`` set; a one-line error for
    an unknown variant or switch."""
    if variant not in VARIANTS:
        raise QmriError(f"network form: variant must be {' or '.join(VARIANTS)}, got {variant!r}")
    unknown = sorted(set(overrides or {}) - set(OPTIONS))
    if unknown:
        raise QmriError(f"network form: no switch {', '.join(unknown)}; the switches are {', '.join(OPTIONS)}")
    return replace(VARIANTS[variant], **(overrides or {}))
