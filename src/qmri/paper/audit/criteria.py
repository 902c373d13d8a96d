"""The tests that turn the paper's words into verdicts: rankings, significance, equivalence, bands.

Fixed choices, stated once and used by every claim of ``qmri.paper.claims``:
- "significantly": a one-sided test at ``ALPHA`` = 0.05 on the claim's unit of analysis;
- "comparable", "similar", "no significant difference": an equivalence test (two one-sided tests,
  TOST, Schuirmann 1987) at ``ALPHA`` with the margin the claim states; absence of a difference is
  never read from a large p-value;
- a number of the paper: ours within ``BAND`` (relative, +-50 %) of it;
- a ranking: strict order of the values as the paper states it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05
#: relative half-width of the band around a number of the paper
BAND = 0.5
#: the median's standard error is sqrt(pi / 2) = 1.2533 times the mean's for a normal sample
MEDIAN_SE_FACTOR = float(np.sqrt(np.pi / 2))


def in_band(value: float, paper: float, band: float = BAND) -> bool:
    """Return whether ``value`` lies within ``paper * (1 +- band)`` (``paper`` may be negative)."""
    return bool(abs(value - paper) <= band * abs(paper))


def ranked(values: dict[str, float], order: tuple[str, ...]) -> bool:
    """Return whether ``values[order[0]] < values[order[1]] < ...`` strictly (the lowest first)."""
    seq = [values[k] for k in order]
    return bool(all(a < b for a, b in zip(seq, seq[1:])))


def _welch(mean: float, se: float, df: float, margin: float) -> float:
    """Return the one-sided p-value of H0: difference <= margin against H1: difference > margin (t distribution)."""
    if se == 0:
        return 0.0 if mean > margin else 1.0
    return float(stats.t.sf((mean - margin) / se, df))


def _difference(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> tuple[float, float, float]:
    """Return the difference of two means, its Welch standard error and degrees of freedom."""
    v1, v2 = s1 ** 2 / n1, s2 ** 2 / n2
    se = float(np.sqrt(v1 + v2))
    df = (v1 + v2) ** 2 / (v1 ** 2 / max(n1 - 1, 1) + v2 ** 2 / max(n2 - 1, 1)) if se > 0 else float(n1 + n2 - 2)
    return m1 - m2, se, float(df)


def greater(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """Return the one-sided Welch t-test p-value of "sample 1's mean is greater than sample 2's" from their
    means, SDs and sizes."""
    diff, se, df = _difference(m1, s1, n1, m2, s2, n2)
    return _welch(diff, se, df, 0.0)


def equivalent(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int, margin: float) -> float:
    """Return the TOST p-value of "the means differ by less than ``margin``" (Welch, from summary statistics).

    Equivalence is shown when the returned p < ``ALPHA``: both one-sided tests reject a difference beyond
    the margin.
    """
    diff, se, df = _difference(m1, s1, n1, m2, s2, n2)
    return max(_welch(diff, se, df, -margin), _welch(-diff, se, df, -margin))


def equivalent_paired(differences: np.ndarray, margin: float) -> float:
    """Return the paired TOST p-value of "the mean of ``differences`` lies within +-``margin``"."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return 1.0
    se = float(d.std(ddof=1) / np.sqrt(d.size))
    return max(_welch(d.mean(), se, d.size - 1, -margin), _welch(-d.mean(), se, d.size - 1, -margin))


def greater_paired(differences: np.ndarray, margin: float = 0.0) -> float:
    """Return the one-sided paired t-test p-value of "the mean of ``differences`` exceeds ``margin``"."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return 1.0
    return _welch(d.mean(), float(d.std(ddof=1) / np.sqrt(d.size)), d.size - 1, margin)


def medians_equivalent(med1: float, sd1: float, n1: int, med2: float, sd2: float, n2: int, margin: float) -> float:
    """Return the TOST p-value of "the medians differ by less than ``margin``": the equivalence test of
    ``equivalent`` with each median's standard error taken as ``MEDIAN_SE_FACTOR`` times the mean's."""
    return equivalent(med1, sd1 * MEDIAN_SE_FACTOR, n1, med2, sd2 * MEDIAN_SE_FACTOR, n2, margin)
