"""qmri: quantitative MRI relaxometry with RIMs, ResNets and a regularised MLE.

Internal units: times (tau, T1, T2) in milliseconds, A in arbitrary signal units.
Conversion to BIDS units (seconds) happens only at file I/O.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qmri-rim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

#: the Python API, imported on first use so that ``import qmri`` (and the ``qmri`` command) stays light
_API = {"InversionRecoveryModel", "T2DecayModel", "RelaxometryModel", "RelaxometryFit"}
__all__ = sorted(_API | {"__version__"})


def __getattr__(name: str):
    if name in _API:
        from qmri import relaxometry

        return getattr(relaxometry, name)
    raise AttributeError(f"module 'qmri' has no attribute {name!r}")
