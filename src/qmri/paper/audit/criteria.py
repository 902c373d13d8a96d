"""The tests that turn the paper's words into verdicts: rankings, significance, equivalence, bands.

Fixed choices, stated once and used by every claim of ``qmri.paper.audit.register``:
- "significantly": a one-sided test at ``ALPHA`` = 0.05 on the claim's unit of analysis;
- "comparable", "similar", "no significant difference": an equivalence test (two one-sided tests,
  TOST, Schuirmann 1987) at ``ALPHA`` with the margin of its wording; absence of a difference is
  never read from a large p-value. Three outcomes (``Equivalence``): equivalent (the 90 % confidence
  interval inside the margin), different (the interval wholly outside it) or undecided (neither: the
  interval and the sample size that would decide are given);
- a number of the paper: ours within ``BAND`` (relative, +-50 %) of it, or within an absolute floor
  for numbers near zero;
- a ranking: strict order of the values as the paper states it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: outcomes of a test against a margin
SHOWN, CONTRADICTED, UNDECIDED = "shown", "contradicted", "undecided"

ALPHA = 0.05
#: relative half-width of the band around a number of the paper
BAND = 0.5
#: the median's standard error is sqrt(pi / 2) = 1.2533 times the mean's for a normal sample
MEDIAN_SE_FACTOR = float(np.sqrt(np.pi / 2))


def in_band(value: float, paper: float, band: float = BAND, floor: float = 0.0) -> bool:
    """Return whether ``value`` lies within ``paper +- max(band * |paper|, floor)``.

    ``floor`` is an absolute half-width for numbers near zero, where a relative band shrinks to nothing.
    """
    return bool(abs(value - paper) <= max(band * abs(paper), floor))


@dataclass(frozen=True)
class Equivalence:
    """The outcome of an equivalence test of a difference against ``+-margin``.

    ``low``/``high`` bound the 90 % confidence interval of the difference (the TOST's); ``scale`` is the
    factor on the sample size that would decide an undecided test (1 when decided, inf when the difference
    sits on the margin).
    """

    outcome: str
    difference: float
    low: float
    high: float
    margin: float
    p: float
    scale: float

    def text(self, unit: str = " points") -> str:
        """Return "difference +0.41 points, 90 % CI [-0.2, 1.0] within +-2" style wording."""
        words = {SHOWN: "within", CONTRADICTED: "outside", UNDECIDED: "across"}[self.outcome]
        return (f"{self.difference:+.2f}{unit}, 90 % CI [{self.low:+.2f}, {self.high:+.2f}] {words} "
                f"+-{self.margin:g}")


def equivalence(difference: float, se: float, df: float, margin: float) -> Equivalence:
    """Return the three-way outcome of the TOST of ``difference`` (standard error ``se``) against ``+-margin``."""
    t = float(stats.t.ppf(1 - ALPHA, max(df, 1.0))) if se > 0 else 0.0
    low, high = difference - t * se, difference + t * se
    p = max(p_above(difference, se, df, -margin), p_above(-difference, se, df, -margin))
    if p < ALPHA:
        outcome = SHOWN
    elif low > margin or high < -margin:
        outcome = CONTRADICTED
    else:
        outcome = UNDECIDED
    gap = abs(margin - abs(difference))
    scale = 1.0 if outcome != UNDECIDED else (float("inf") if gap == 0 else max((t * se / gap) ** 2, 1.0))
    return Equivalence(outcome, float(difference), float(low), float(high), float(margin), float(p), float(scale))


def exceeds(difference: float, se: float, df: float, margin: float = 0.0) -> str:
    """Return whether ``difference`` is shown above ``margin`` (one-sided test), shown at or below it, or neither."""
    if p_above(difference, se, df, margin) < ALPHA:
        return SHOWN
    if p_above(-difference, se, df, -margin) < ALPHA:
        return CONTRADICTED
    return UNDECIDED


def paired_difference(differences: np.ndarray) -> tuple[float, float, float]:
    """Return the mean of the finite ``differences``, its standard error and degrees of freedom (NaN when < 2)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), float("nan"), 1.0
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)), float(d.size - 1)


def ranked(values: dict[str, float], order: tuple[str, ...]) -> bool:
    """Return whether ``values[order[0]] < values[order[1]] < ...`` strictly (the lowest first)."""
    seq = [values[k] for k in order]
    return bool(all(a < b for a, b in zip(seq, seq[1:])))


def p_above(mean: float, se: float, df: float, margin: float = 0.0) -> float:
    """Return the one-sided p-value of H0: difference <= margin against H1: difference > margin (t distribution)."""
    if se == 0:
        return 0.0 if mean > margin else 1.0
    return float(stats.t.sf((mean - margin) / se, df))


def summary_difference(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> tuple[float, float, float]:
    """Return sample 1's mean minus sample 2's, its Welch standard error and degrees of freedom, from their means,
    SDs and sizes."""
    v1, v2 = s1 ** 2 / n1, s2 ** 2 / n2
    se = float(np.sqrt(v1 + v2))
    df = (v1 + v2) ** 2 / (v1 ** 2 / max(n1 - 1, 1) + v2 ** 2 / max(n2 - 1, 1)) if se > 0 else float(n1 + n2 - 2)
    return m1 - m2, se, float(df)
