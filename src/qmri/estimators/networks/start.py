"""The conventional start of our RIM (``arim``): a grid search whose B is pooled over many pixels.

B is not identifiable pixel by pixel at the SNRs of brain imaging (its Cramer-Rao SD at SNR 10 with
31 inversion times is 4.6-8.4 times its spread over subjects); the MLE gets it from many pixels through
its prior on B. This start does the same in one pass, as qRIM starts its nuisance maps from a
conventional fit (Zhang et al., NeuroImage 2022):

1. for each B of the efficiency parameter's grid and each pixel, the best residual sum of squares
   over the time grid with A in closed form (variable projection: one matmul per B value);
2. those residuals summed over the masked pixels of a square window around each pixel (the whole
   image when ``window`` is None): a profile of the pooled residual against B at every pixel;
3. B at its minimum, refined by a parabola through the three grid values around it;
4. T and A at that B: each pixel's best log T and A of the two B grid values around it, interpolated
   linearly (T at the nearest grid value instead would carry B's rounding, up to half a grid step, into T
   through the B/T1 trade-off: measured, a T1 bias from -3 % to +7 % over brains with B 1.55-1.95).

With ``kin`` (pooling ``kin`` or ``auto`` in ``START_POOLS``), step 2 runs twice: the window's B gives every
pixel its T, then each pixel pools only the pixels of about its own T (``kin_sum``). Where B is not one smooth field
but follows T1, as it does under incomplete recovery (B' = B / (1 + (B - 1) e^(-TR/T1)), the NIST phantom at
TR 4.5 s), the window's B is wrong for every sphere far from the window's typical T1; the kin's is not.
Grouping on the T at the window's B rather than on each pixel's own free fit keeps the groups from
sorting pixels by their noise, which would bias B at low SNR. Some bias stays, and the kin's smaller pools are
noisier, so pooling ``auto`` takes the kin's B only where the kin's pixels reject the window's (a likelihood-ratio
test, ``KIN_EVIDENCE``): the window's B on a brain, the kin's on the spheres of a phantom at short TR.

A model without an efficiency parameter (T2) gets the per-pixel grid search of steps 1 and 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from qmri.physics.signal import SignalModel

#: how the start pools B: over the whole window, over the window's pixels of about the same T ("kin"), or the
#: kin's B only where its pixels reject the window's ("auto", ``KIN_EVIDENCE``)
START_POOLS = ("window", "kin", "auto")
#: half-width (natural log of T) of the kin pooling's hat functions: pixels within a factor e^0.2 = 1.22 of T
#: pool fully apart from the hats' edges, none beyond e^0.4 = 1.49. Chosen on the real NIST T1 sessions and
#: eight unseen brain subjects with the packaged aRIM's start (docs: the aRIM): 0.2 and 0.35 score alike.
KIN_WIDTH = 0.2
#: "auto" pooling takes the kin's B where twice the kin's log-likelihood ratio of its own B against the window's
#: (the noise variance from the kin's own residual) exceeds this. Chi-square's 99.9th percentile (10.8) would be the
#: bound if one B held and the kin's pixels were independent of how they were grouped; they are grouped on noisy T,
#: and at 10.8 a few percent of brain pixels switched, adding variance. Chosen on eight unseen brain subjects at SNR
#: 10-100 (no pixel switches) and the real NIST T1 sessions (every long-T1 sphere switches; docs: the aRIM)
KIN_EVIDENCE = 100.0
#: pixels whose time-grid scores (every B's) are searched at once: about 7 MB of float32 scores, cache-sized
CHUNK_PIXELS = 2048


def box_sum(x: torch.Tensor, window: int) -> torch.Tensor:
    """Return the sum of ``x`` (batch, C, H, W) over a ``window`` x ``window`` box around each pixel (zero outside)."""
    half = window // 2
    padded = F.pad(x, (half + 1, half, half + 1, half))
    c = padded.cumsum(dim=2).cumsum(dim=3)  # summed-area table, one zero row and column in front
    h, w = x.shape[-2:]
    return (c[..., window:window + h, window:window + w] - c[..., :h, window:window + w]
            - c[..., window:window + h, :w] + c[..., :h, :w])


def _parabola_peak(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the maximum over dim 1 of ``scores`` (grid on dim 1) and its fractional grid index, from a parabola
    through the best grid point and its two neighbours (dim 1 removed): sub-grid accuracy, so a coarse time grid
    does not bias the pooled B, and a B between the grid values."""
    k = scores.argmax(dim=1, keepdim=True).clamp(1, scores.shape[1] - 2)
    left, centre, right = (scores.gather(1, k + d).squeeze(1) for d in (-1, 0, 1))
    curvature = left - 2 * centre + right
    shift = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp_max(-1e-30), torch.zeros_like(centre))
    shift = shift.clamp(-1, 1)
    return centre - 0.25 * (left - right) * shift, k.squeeze(1) + shift


def _interpolate(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Return ``values`` linearly interpolated along dim 0 at fractional indices ``index`` (P,): ``values`` (G,) is one
    grid for every index, (G, P) a grid per index (column). A one-value grid returns that value."""
    low = index.floor().long().clamp(0, max(len(values) - 2, 0))
    high = (low + 1).clamp_max(len(values) - 1)
    frac = index - low
    if values.dim() == 1:
        return values[low] * (1 - frac) + values[high] * frac
    column = torch.arange(len(index), device=index.device)
    return values[low, column] * (1 - frac) + values[high, column] * frac


def _profile_at(profile: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Return each pixel's ``profile`` (batch, G, H, W) at its fractional grid index ``index`` (P,), by the parabola
    through the three grid values nearest to it (the one ``_parabola_peak`` fits about a minimum), shape (batch, H, W)."""
    b, g, h, w = profile.shape
    flat = profile.permute(1, 0, 2, 3).reshape(g, -1)  # shape (G, P)
    centre = index.round().long().clamp(1, g - 2)
    x = index - centre
    column = torch.arange(flat.shape[1], device=flat.device)
    left, middle, right = (flat[centre + d, column] for d in (-1, 0, 1))
    value = middle + 0.5 * x * (right - left) + 0.5 * x * x * (right - 2 * middle + left)
    return value.view(b, h, w)


def _minimum(profile: torch.Tensor, effs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return B (batch, H, W) at the minimum of each pixel's ``profile`` (batch, G, H, W) over the B grid ``effs``,
    and its fractional index on that grid (P,), within the grid."""
    b_map = effs[0] + _parabola_peak(-profile)[1] * (effs[1] - effs[0])
    return b_map, ((b_map - effs[0]) / (effs[1] - effs[0])).clamp(0, len(effs) - 1).view(-1)


def _grid_scores(flat: torch.Tensor, unit: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return, for each pixel of ``flat`` (P, N) and each block of ``count`` unit-norm signals of ``unit`` (G count, N)
    (one block per B), the fractional index of the best time and its score (``_parabola_peak``; at least 0), each
    (G, P). Pixels go ``CHUNK_PIXELS`` at a time, so that the scores of every B stay in cache from the product
    through the peak search."""
    offsets, peaks = [], []
    for chunk in flat.split(CHUNK_PIXELS):
        peak, offset = _parabola_peak((chunk @ unit.T).view(-1, count))  # scores (chunk G, T)
        offsets.append(offset.view(len(chunk), -1))
        peaks.append(peak.clamp_min(0).view(len(chunk), -1))
    return torch.cat(offsets).T, torch.cat(peaks).T


def kin_sum(rss: torch.Tensor, log_time: torch.Tensor, window: int, kin: float) -> torch.Tensor:
    """Return, per pixel p, ``sum_q k(p, q) rss_q`` over the ``window`` box around p, ``rss`` (batch, G, H, W) zero
    outside the pool: ``k(p, q) = sum_c h_c(p) h_c(q)`` with hat functions ``h_c`` of half-width ``kin`` on the
    pixels' ``log_time`` (batch, H, W), centred ``kin`` apart (they sum to 1), so that pixels pool with those of
    about their own relaxation time (zero beyond twice ``kin``)."""
    low = float(log_time.min())
    position = (log_time - low) / kin  # the pixels' place on the hat functions' centres, shape (batch, H, W)
    pooled = torch.zeros_like(rss)
    for c in range(int(position.max()) + 2):  # a hat per kin of log time the image spans: a few dozen at most
        hat = (1 - (position - c).abs()).clamp_min(0).unsqueeze(1)
        if bool(hat.any()):
            pooled += hat * box_sum(rss * hat, window)
    return pooled


def profile_start(model: SignalModel, signal: torch.Tensor, tau_ms: torch.Tensor, mask: torch.Tensor,
                  window: int | None = None, pool: str = "window") -> torch.Tensor:
    """Return the start ``kappa`` (batch, Q, H, W), physical units, for images ``signal`` (batch, N, H, W).

    ``mask`` (batch, H, W) marks the pixels that pool B; pixels whose window holds no masked pixel
    take the whole image's pooled B; ``pool`` is one of ``START_POOLS`` (the kin's need a ``window``). Runs in
    float32 under no autograd, also inside an autocast region: the time grid's scores differ in the fourth digit,
    which bfloat16 matrix products would lose.
    """
    with torch.no_grad(), torch.autocast(signal.device.type, enabled=False):
        b, n, h, w = signal.shape
        flat = signal.float().permute(0, 2, 3, 1).reshape(-1, n)  # shape (P, N)
        energy = (flat * flat).sum(dim=1)
        names = [p.kind for p in model.parameters]
        time = model.parameters[names.index("time")]
        times = time.grid_values(torch.float32).to(signal.device)  # shape (T,)
        efficiency = [p for p in model.parameters if p.kind == "efficiency"]
        effs = (efficiency[0].grid_values(torch.float32).to(signal.device) if efficiency
                else torch.ones(1, device=signal.device))
        grids = torch.stack([torch.stack([torch.ones_like(times) if kind == "amplitude" else value.expand_as(times)
                                          if kind == "efficiency" else times for kind in names], dim=1)
                             for value in effs])  # shape (G, T, Q)
        basis = model.forward(grids.reshape(-1, len(names)), tau_ms.float())  # shape (G T, N)
        norm = basis.norm(dim=1).clamp_min(1e-12)
        offset, peak = _grid_scores(flat, basis / norm[:, None], len(times))  # each (G, P)
        best_a = peak / torch.stack([_interpolate(n, k) for n, k in zip(norm.view(len(effs), -1), offset)])  # (G, P)
        rss = (energy - peak * peak).view(-1, b, h, w).transpose(0, 1)  # shape (batch, G, H, W)
        best_log_t = times[0].log() + offset * (times[1] / times[0]).log()  # shape (G, P)
        if efficiency:
            weight = mask.float().unsqueeze(1)
            pooled_all = (rss * weight).sum(dim=(2, 3), keepdim=True).expand_as(rss)
            profile = pooled_all
            if window is not None:
                profile = torch.where(box_sum(weight, window) > 0.5, box_sum(rss * weight, window), pooled_all)
            b_map, index = _minimum(profile, effs)
            if pool != "window" and window is not None:
                own = _interpolate(best_log_t, index).view(b, h, w)  # each pixel's log T at the window's B
                kin_pooled = kin_sum(torch.cat([rss * weight, weight], dim=1), own, window, KIN_WIDTH)  # both at once
                count = kin_pooled[:, -1]
                profile = torch.where(count.unsqueeze(1) > 0.5, kin_pooled[:, :-1], pooled_all)
                kin_b, kin_index = _minimum(profile, effs)
                use = torch.ones_like(kin_b, dtype=torch.bool)
                if pool == "auto":  # the kin's likelihood ratio of its B against the window's, noise from its residual
                    best = _profile_at(profile, kin_index)
                    sigma2 = best / (count.clamp_min(1) * max(n - 2, 1))
                    use = (_profile_at(profile, index) - best) > KIN_EVIDENCE * sigma2
                b_map = torch.where(use, kin_b, b_map)
                index = torch.where(use.view(-1), kin_index, index)
        else:
            b_map, index = None, torch.zeros(b * h * w, device=signal.device)
        t_map = _interpolate(best_log_t, index).exp().view(b, h, w)
        a_map = _interpolate(best_a, index).view(b, h, w)
        channels = [a_map if kind == "amplitude" else b_map if kind == "efficiency" else t_map for kind in names]
        return torch.stack(channels, dim=1).to(signal.dtype)
