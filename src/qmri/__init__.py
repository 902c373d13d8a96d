"""qmri: quantitative MRI relaxometry with RIMs, ResNets and a regularised MLE.

Internal units: times (tau, T1, T2) in milliseconds, A in arbitrary signal units.
Conversion to BIDS units (seconds) happens only at file I/O.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qmri-rim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
