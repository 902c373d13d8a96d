"""The regularised maximum likelihood solver (sections 2.2.1 and 4.4.1 of the paper).

Minimises, over every voxel of a stack of 2D slices at once,

    F(kappa) = sum_m sum_n nll(S_mn | g_n(kappa_m), sigma)  +  (lambda_B / 2) B^T L B,

where L is the graph Laplacian of the in-plane 4-neighbourhood of the fitted voxels, so that
``B^T L B`` is the sum of squared differences of B between neighbours and its gradient,
``lambda_B L B``, is (minus) the discrete Laplace operator applied to B: the paper's prior.
Only B is regularised; A, T1 and T2 are voxel-wise. Slices are independent (multi-slice 2D data).
The data term is a ``qmri.physics.likelihood`` noise model: the paper's Gaussian on magnitudes,
``nll = (S - |g|)^2 / (2 sigma^2)``, by default; Gaussian on signed (real-valued) images; or Rician.

How it is solved:
1. Start: a grid search (the paper's "linear search") over the non-linear parameters (B, T1
   or T2). For each grid point the amplitude is linear, ``f = A h`` with ``h = f(A=1)``, so the
   best A and residual follow in closed form (variable projection) for all voxels at once.
2. Levenberg-Marquardt (Fisher scoring: the curvature is ``J^T diag(I_n) J`` with ``I_n`` the
   noise model's Fisher information about image n, ``1 / sigma^2`` for Gaussian noise, which makes it
   Gauss-Newton) with Marquardt scaling and one damping factor per voxel. The system is block diagonal
   (Q x Q per voxel) except for the prior, which couples
   B across voxels. With lambda_B > 0 the per-voxel (A, T1) blocks are eliminated exactly by a
   Schur complement, leaving a sparse SPD system ``(diag(s) + lambda_B L) dB = r`` solved by
   Jacobi-preconditioned conjugate gradients on the image grid (a 5-point stencil; no matrix).
3. A trial step is kept per voxel where that voxel's share of F (its data term plus half of
   its prior edges) decreases; if the coupling makes a slice's F rise anyway, that slice's whole
   step is rejected and its damping raised. F therefore never increases.
4. Each slice of a batch is its own fit: its start (the median B), conjugate-gradient steps,
   step rejection and convergence read its own voxels only, and iterations stop computing the slices
   that have converged. A slice's maps do not depend on the slices fitted beside it (only the
   intensity normalisation, which F does not depend on, is common), and a batch costs about what
   its slices cost one by one.

Everything is batched torch code: CPU or CUDA, no Python loop over voxels.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from qmri.errors import QmriError
from qmri.estimators.mle.noise import estimate_sigma
from qmri.estimators.mle.prior import VoxelGraph, conjugate_gradient
from qmri.physics.likelihood import Gaussian, NoiseModel
from qmri.physics.signal import SignalModel

#: the paper's weight of the Laplacian prior on B for T1 mapping (section 4.4.1): every default in the library
LAMBDA_B = 500.0


@dataclass(frozen=True)
class MLESettings:
    """Settings of the estimator. lambda_b is the paper's lambda_B (``LAMBDA_B`` for T1 mapping)."""

    lambda_b: float = LAMBDA_B
    max_iter: int = 100
    #: converged when, in three successive iterations, no parameter moved by more than tol
    #: times its Cramer-Rao SD
    tol: float = 1e-2
    #: the B system is solved inexactly (a damped Gauss-Newton step needs no more)
    cg_max_iter: int = 50
    cg_tol: float = 1e-4
    #: slices are fitted in groups of at most this many voxels (one slice at least): the slices are
    #: independent, and a group's arrays stay in a CPU's cache (many slices at once are slower: docs, performance)
    group_voxels: int = 2**16


@dataclass
class MLEResult:
    """Estimated maps ``kappa`` (batch, Q, H, W), NaN outside the fitted voxels, in data units."""

    kappa: torch.Tensor
    sigma: float
    objective: list[float]
    converged: bool


def grid_search(model: SignalModel, signal: torch.Tensor, tau_ms: torch.Tensor,
                fixed: dict[str, float] | None = None, chunk: int = 8192, signed: bool = False) -> torch.Tensor:
    """Return the best grid point per voxel for ``signal`` (M, N), as ``(M, Q)``, A solved in closed form.

    For each combination of the non-linear parameters on their ``Parameter.grid`` (times log-spaced), ``h = f(A=1)`` and the
    least-squares amplitude ``A = <S, h> / <h, h>`` (clamped at 0) give the residual exactly:
    ``RSS = |S|^2 - <S, h>^2 / |h|^2`` when ``<S, h> > 0``, so the best point maximises
    ``<S, h / |h|>``. Parameters named in ``fixed`` take that one value instead of a grid. ``signed``
    images are matched with the signal before the modulus, magnitude images with its modulus.
    """
    fixed = fixed or {}
    axes = []
    for parameter in model.parameters[1:]:
        if parameter.name in fixed:
            axes.append(torch.tensor([fixed[parameter.name]], dtype=signal.dtype))
        else:
            axes.append(parameter.grid_values(signal.dtype))
    mesh = torch.cartesian_prod(*axes).reshape(-1, len(axes))  # shape (G, Q-1)
    grid = torch.cat([torch.ones(len(mesh), 1, dtype=signal.dtype), mesh], dim=1).to(signal.device)
    h = model.signed(grid, tau_ms) if signed else model.forward(grid, tau_ms)  # shape (G, N)
    norm = h.norm(dim=1)  # shape (G,)
    unit = (h / norm[:, None]).to(torch.float32)
    best = signal.new_empty(signal.shape[0], model.n_params)
    for start in range(0, signal.shape[0], chunk):
        s = signal[start:start + chunk]
        # <S, h/|h|> ranks the grid points (float32 suffices for the ranking); A from float64
        idx = (s.to(torch.float32) @ unit.T).argmax(dim=1)
        best[start:start + chunk] = grid[idx]
        best[start:start + chunk, 0] = ((s * h[idx]).sum(dim=1) / norm[idx] ** 2).clamp_min(0)
    return best


class _Problem:
    """The objective F of one fit in normalised units, over the flat voxels of a graph."""

    def __init__(self, model: SignalModel, signal: torch.Tensor, tau: torch.Tensor, sigma: float,
                 graph: VoxelGraph, lambda_b: float, noise: NoiseModel | None = None):
        self.model, self.signal, self.tau, self.graph = model, signal, tau, graph
        self.noise = noise or Gaussian()
        self.signal32, self.tau32 = signal.to(torch.float32), tau.to(torch.float32)
        self.sigma = sigma
        self.b = model.param_names.index("B") if "B" in model.param_names and lambda_b > 0 else None
        self.lambda_b = lambda_b if self.b is not None else 0.0
        bounds = torch.tensor([p.bounds for p in model.parameters], dtype=signal.dtype, device=signal.device)
        self.lower, self.upper = bounds[:, 0], bounds[:, 1]

    def restrict(self, idx: torch.Tensor) -> _Problem:
        """Return the problem of the voxels ``idx`` alone (only without a prior: voxels are then independent)."""
        assert self.b is None, "voxels coupled by the prior on B cannot be fitted apart"
        return _Problem(self.model, self.signal[idx], self.tau, self.sigma, self.graph, 0.0, self.noise)

    def of_slices(self, keep: torch.Tensor) -> tuple[_Problem, torch.Tensor]:
        """Return the problem of the slices where ``keep`` (batch,) is true (no edge joins slices), and the
        indices of their voxels in this problem."""
        graph, idx = self.graph.of_slices(keep)
        return _Problem(self.model, self.signal[idx], self.tau, self.sigma, graph, self.lambda_b, self.noise), idx

    def data_term(self, kappa: torch.Tensor) -> torch.Tensor:
        """Return each voxel's negative log-likelihood (summed over images), shape (M,)."""
        return self.noise.nll(self.model.signed(kappa, self.tau), self.signal, self.sigma).sum(dim=1)

    def prior_term(self, kappa: torch.Tensor) -> torch.Tensor | float:
        """Return each voxel's share of the prior (half of its edges), shape (M,), or 0 without one."""
        return 0.0 if self.b is None else self.graph.prior_share(kappa[:, self.b], self.lambda_b)

    def local(self, kappa: torch.Tensor) -> torch.Tensor:
        """Return each voxel's share of F (data term plus half its prior edges), shape (M,)."""
        return self.data_term(kappa) + self.prior_term(kappa)

    def step(self, kappa: torch.Tensor, mu: torch.Tensor, settings: MLESettings
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the damped Fisher-scoring step (M, Q), Marquardt scaling ``mu diag(H)``; its
        predicted decrease of F per voxel (M,), ``d^T (mu D d - grad) / 2``, which sums to the exact
        decrease of the quadratic model (prior included); and the Cramer-Rao SD of each parameter
        (M, Q) from the undamped Fisher information, the yardstick of convergence.

        The step is computed in float32, twice as fast on a CPU; it is only a search direction:
        acceptance compares F in float64, so F still never increases.
        """
        out_dtype, kappa = kappa.dtype, kappa.to(torch.float32)
        mu = mu.to(torch.float32)
        # the noise model's score and information are about g: no need to form J = d|g|/dkappa
        g, dg = self.model.signed_and_jacobian(kappa, self.tau32)  # dg: shape (M, Q, N)
        # shapes (M, N); the curvature is a float for Gaussian noise
        score, info = self.noise.score_and_curvature(g, self.signal32, self.sigma)
        if torch.is_tensor(info):
            hess = (dg * info.unsqueeze(1)) @ dg.transpose(1, 2)  # shape (M, Q, Q)
        else:
            hess = (dg @ dg.transpose(1, 2)) * info
        grad = (dg @ score.unsqueeze(2))[..., 0]  # shape (M, Q)
        cov, _ = torch.linalg.inv_ex(hess)
        crlb = torch.diagonal(cov, dim1=-2, dim2=-1).abs().sqrt()
        scale = torch.diagonal(hess, dim1=-2, dim2=-1).clamp_min(1e-12)
        hess = hess + torch.diag_embed(mu[:, None] * scale + 1e-12)
        damping = mu[:, None] * scale
        if self.b is None:
            step = torch.linalg.solve(hess, -grad)
            # Newton decrement: the length of the undamped step in the metric of the Fisher information
            decrement = (grad * (cov @ grad.unsqueeze(2))[..., 0]).sum(dim=1).clamp_min(0).sqrt()
            return self._out(step, damping, grad, crlb, out_dtype, decrement)
        b = self.b
        u = [q for q in range(kappa.shape[1]) if q != b]
        grad[:, b] += self.lambda_b * self.graph.laplacian(kappa[:, b])
        grad_b = grad[:, b]
        h_uu = hess[:, u][:, :, u]  # shape (M, Q-1, Q-1)
        h_ub = hess[:, u, b]  # shape (M, Q-1)
        x = torch.linalg.solve(h_uu, torch.stack([-grad[:, u], h_ub], dim=-1))  # shape (M, Q-1, 2)
        x_g, x_b = x[..., 0], x[..., 1]
        schur = hess[:, b, b] - (h_ub * x_b).sum(-1)
        rhs = -grad_b - (h_ub * x_g).sum(-1)
        d_b = conjugate_gradient(schur, self.lambda_b, rhs, self.graph, settings.cg_max_iter, settings.cg_tol)
        step = torch.empty_like(kappa)
        step[:, u] = x_g - x_b * d_b[:, None]
        step[:, b] = d_b
        return self._out(step, damping, grad, crlb, out_dtype)

    @staticmethod
    def _out(step: torch.Tensor, damping: torch.Tensor, grad: torch.Tensor, crlb: torch.Tensor,
             dtype: torch.dtype, decrement: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        predicted = 0.5 * (step * (damping * step - grad)).sum(dim=1)
        decrement = None if decrement is None else decrement.to(dtype)
        return step.to(dtype), predicted.to(dtype), crlb.to(dtype), decrement


class _Trial(NamedTuple):
    """One damped step of a set of voxels: the step and its result, kept per voxel where it lowered F."""

    step: torch.Tensor  # (M, Q), before the bounds
    trial: torch.Tensor  # (M, Q), the step within the bounds
    better: torch.Tensor  # (M,), the voxel's share of F fell
    kappa: torch.Tensor  # (M, Q), the trial where better, else the start
    data: torch.Tensor  # (M,)
    local: torch.Tensor  # (M,), its share of F with the neighbours' new values
    mu: torch.Tensor  # (M,), the damping for the next step if this one is kept
    nu: torch.Tensor  # (M,)
    crlb: torch.Tensor  # (M, Q), the Cramer-Rao SDs at the start
    moved: torch.Tensor  # (M,), the largest change of a parameter in Cramer-Rao SDs
    decrement: torch.Tensor | None  # (M,), the Newton decrement (uncoupled voxels only)


def _try_step(problem: _Problem, kappa: torch.Tensor, data: torch.Tensor, local: torch.Tensor, mu: torch.Tensor,
              nu: torch.Tensor, settings: MLESettings) -> _Trial:
    """Return a damped step from ``kappa``, with the damping of Nielsen's rule (Madsen, Nielsen and
    Tingleff 2004, eq. 2.21) from the gain ratio rho = actual / predicted decrease."""
    step, predicted, crlb, decrement = problem.step(kappa, mu, settings)
    trial = torch.clamp(kappa + step, problem.lower, problem.upper)
    trial_data = problem.data_term(trial)
    trial_local = trial_data + problem.prior_term(trial)
    better = trial_local < local
    mixed = torch.where(better[:, None], trial, kappa)
    mixed_data = torch.where(better, trial_data, data)
    mixed_local = mixed_data + problem.prior_term(mixed)  # a voxel's prior share sees its neighbours
    rho = (local - trial_local) / predicted.clamp_min(1e-300)
    shrink = torch.clamp(1 - (2 * rho - 1) ** 3, min=1 / 3)
    new_mu = torch.where(better, mu * shrink, mu * nu).clamp(1e-12, 1e12)
    new_nu = torch.where(better, torch.full_like(nu, 2.0), nu * 2)
    moved = ((mixed - kappa).abs() / crlb).nan_to_num(0.0).amax(dim=1)
    return _Trial(step, trial, better, mixed, mixed_data, mixed_local, new_mu, new_nu, crlb, moved, decrement)


def levenberg_marquardt(problem: _Problem, kappa: torch.Tensor, settings: MLESettings
                        ) -> tuple[torch.Tensor, list[float], bool]:
    """Return ``(kappa, objective history, converged)`` after damped Fisher-scoring iterations.

    Damping is per voxel. Converged: in three successive iterations no parameter moved by more than
    ``settings.tol`` times its Cramer-Rao SD, i.e. the remaining steps are far below what the noise lets
    the data determine. Each unit of the problem stops on its own and later iterations only compute the
    units still moving (an active set): a slice when the prior on B couples its voxels
    (``_slices_lm``), else a voxel (``_voxels_lm``). The history is F of the whole problem.
    """
    mu = kappa.new_full(kappa.shape[:1], 1e-3)
    nu = torch.full_like(mu, 2.0)
    data = problem.data_term(kappa)
    local = data + problem.prior_term(kappa)
    solve = _voxels_lm if problem.b is None else _slices_lm
    return solve(problem, kappa.clone(), data, local, mu, nu, settings)


def _slices_lm(problem: _Problem, kappa: torch.Tensor, data: torch.Tensor, local: torch.Tensor, mu: torch.Tensor,
               nu: torch.Tensor, settings: MLESettings) -> tuple[torch.Tensor, list[float], bool]:
    """Iterate slice by slice (vectorised over the active slices): a slice's step is kept where each voxel's
    share of F fell, and rejected whole (damping raised) if the coupling made the slice's F rise anyway."""
    graph = problem.graph
    objective = graph.slice_sum(local)  # shape (batch,)
    history = [objective.sum().item()]
    empty = graph.slice_sizes == 0
    quiet = torch.where(empty, 3, 0)  # shape (batch,): successive iterations without a noticeable move
    sub, idx, active = problem, None, ~empty
    for _ in range(settings.max_iter):
        now = quiet < 3
        if not now.any():
            return kappa, history, True
        if not torch.equal(now, active):
            active = now
            sub, idx = (problem, None) if active.all() else problem.of_slices(active)
        k0, data0, local0, mu0, nu0 = ((x if idx is None else x[idx]) for x in (kappa, data, local, mu, nu))
        t = _try_step(sub, k0, data0, local0, mu0, nu0, settings)
        new = sub.graph.slice_sum(t.local)
        keep = new <= objective[active]  # shape (active,)
        kept = keep[sub.graph.slice]
        values = (torch.where(kept[:, None], t.kappa, k0), torch.where(kept, t.data, data0),
                  torch.where(kept, t.local, local0), torch.where(kept, t.mu, (mu0 * nu0).clamp_max(1e12)),
                  torch.where(kept, t.nu, nu0 * 2))
        if idx is None:
            kappa, data, local, mu, nu = values
        else:
            for target, value in zip((kappa, data, local, mu, nu), values):
                target[idx] = value
        still = sub.graph.slice_max(t.moved) <= settings.tol
        quiet[active] = torch.where(keep, torch.where(still, quiet[active] + 1, 0), quiet[active])
        objective[active] = torch.where(keep, new, objective[active])
        history.append(objective.sum().item())
    return kappa, history, bool((quiet >= 3).all().item())


def _voxels_lm(problem: _Problem, kappa: torch.Tensor, data: torch.Tensor, local: torch.Tensor, mu: torch.Tensor,
               nu: torch.Tensor, settings: MLESettings) -> tuple[torch.Tensor, list[float], bool]:
    """Iterate voxel by voxel (vectorised over the active voxels), each stopping on its own: once its
    Newton decrement (the undamped step's length in noise SDs) is under tol, or after three steps under
    tol CRLB SDs that were rejected, stopped by a bound or lowered F by less than tol^2 / 2 (most voxels
    converge in a few iterations, a few need tens)."""
    history = [local.sum().item()]
    quiet = torch.zeros(kappa.shape[:1], dtype=torch.long, device=kappa.device)
    for _ in range(settings.max_iter):
        idx = (quiet < 3).nonzero()[:, 0]
        if len(idx) == 0:
            return kappa, history, True
        sub = problem.restrict(idx)
        k0, local0 = kappa[idx], local[idx]
        t = _try_step(sub, k0, data[idx], local0, mu[idx], nu[idx], settings)
        kappa[idx], data[idx], local[idx], mu[idx], nu[idx] = t.kappa, t.data, t.local, t.mu, t.nu
        # quiet: the undamped step is negligible (its Newton decrement, in noise SDs), or a negligible
        # step was rejected (no progress left at that scale, e.g. on the kink of the modulus), stopped
        # by a bound, or gained nothing (a flat valley of a voxel without signal); an accepted short
        # step under heavy damping that still lowers F is on its way
        tiny = ((t.trial - k0).abs() / t.crlb).nan_to_num(0.0).amax(dim=1) <= settings.tol  # bounds applied
        clamped = (t.trial != k0 + t.step).any(dim=1)  # the step leaves the box: Newton's decrement ignores that
        # a decrease of F under tol^2 / 2 changes the likelihood ratio by a factor under 1.0001
        flat = (local0 - t.local) < 0.5 * settings.tol**2
        stuck = tiny & (~t.better | clamped | flat)
        # a small decrement bounds the distance left to the minimum: one suffices
        quiet[idx] = torch.where(t.decrement.nan_to_num(0.0) <= settings.tol, 3, torch.where(stuck, quiet[idx] + 1, 0))
        history.append(local.sum().item())
    return kappa, history, bool((quiet >= 3).all().item())


def fit(model: SignalModel, signal: torch.Tensor, tau_ms: torch.Tensor | list[float],
        sigma: float | None = None, mask: torch.Tensor | None = None,
        settings: MLESettings = MLESettings(), noise: NoiseModel | None = None) -> MLEResult:
    """Return the regularised MLE of ``signal`` (batch, N, H, W) in any intensity scale.

    ``sigma`` is the noise SD in the data's units; when None it is estimated from the residuals of a
    voxel-wise (lambda_B = 0) Gaussian fit, which is not the start of the regularised fit. With
    lambda_B > 0 the start is a uniform B per slice (the median of its voxel-wise grid search) with A and T1
    searched on the grid for that B. Voxels outside
    ``mask`` (batch, H, W) or with a non-finite value are not fitted and come back NaN. The data are
    divided by their 99th percentile of the maximum (absolute) intensity projection before fitting,
    and A is scaled back. ``noise`` is the data term (default: the paper's Gaussian on magnitudes;
    ``Gaussian(signed=True)`` fits real-valued images without the modulus). Computation runs in
    float64 on the signal's device.
    """
    noise = noise or Gaussian()
    if signal.ndim != 4:
        raise QmriError(f"expected images of shape (batch, N, H, W), got {tuple(signal.shape)}")
    signal = signal.to(torch.float64)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64, device=signal.device)
    if tau.numel() != signal.shape[1]:
        raise QmriError(f"{tau.numel()} tau values for {signal.shape[1]} images")
    valid = torch.isfinite(signal).all(dim=1)
    if mask is not None:
        valid &= mask.to(signal.device, torch.bool)
    graph = VoxelGraph(valid)
    data = signal.permute(0, 2, 3, 1).reshape(-1, signal.shape[1])[graph.index]  # shape (M, N)
    scale = data.abs().amax(dim=1).quantile(0.99).item() if len(data) else 0.0
    if not scale > 0:
        raise QmriError("no voxel with signal inside the mask")
    data = data / scale

    kappa = grid_search(model, data, tau, signed=noise.signed)
    if settings.lambda_b > 0 and "B" in model.param_names:
        # Start on the smooth-B side: B and T1 trade off along a shallow valley in each voxel, and
        # a noisy voxel-wise B would take many iterations to drift together under the prior. Each
        # slice starts from its own median (a grid value): one search per distinct value.
        b_start = graph.slice_median(kappa[:, model.index("B")])[graph.slice]
        for value in b_start.unique():
            same = b_start == value
            kappa[same] = grid_search(model, data[same], tau, fixed={"B": value.item()}, signed=noise.signed)
    if sigma is None:
        # the voxel-wise fit only measures the noise: its noisy B must not start the regularised fit
        gaussian = Gaussian(noise.signed)
        voxelwise, _, _ = levenberg_marquardt(_Problem(model, data, tau, 1.0, graph, 0.0, gaussian), kappa, settings)
        sigma_n = estimate_sigma(model, data, voxelwise, tau, signed=noise.signed)
    elif sigma > 0:
        sigma_n = sigma / scale
    else:
        raise QmriError(f"sigma must be positive, got {sigma}")
    histories, converged = [], True
    for keep in graph.slice_groups(settings.group_voxels):
        group, idx = graph.of_slices(keep)
        problems = [_Problem(model, data[idx], tau, sigma_n, group, settings.lambda_b, noise)]
        if not isinstance(noise, Gaussian):
            # the Gaussian fit is the same above an SNR of about 3 and a close start below: it leaves the
            # costlier likelihood (Bessel functions per image) only the last few iterations
            problems.insert(0, _Problem(model, data[idx], tau, sigma_n, group, settings.lambda_b, Gaussian(noise.signed)))
        start = kappa[idx]
        for problem in problems:
            start, history, done = levenberg_marquardt(problem, start, settings)
        kappa[idx] = start
        histories.append(history)
        converged &= done
    kappa[:, 0] *= scale
    return MLEResult(kappa=graph.scatter(kappa), sigma=sigma_n * scale, objective=_total(histories),
                     converged=converged)


def _total(histories: list[list[float]]) -> list[float]:
    """Return F of all groups after each iteration, a group that stopped counting with its last value."""
    longest = max((len(h) for h in histories), default=0)
    return [sum(h[min(i, len(h) - 1)] for h in histories) for i in range(longest)]
