"""Regularised maximum likelihood estimation (sections 2.2.1 and 4.4.1 of the paper).

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
   its prior edges) decreases; if the coupling makes the total F rise anyway, the whole step is
   rejected and damping raised. F therefore never increases.

Everything is batched torch code: CPU or CUDA, no Python loop over voxels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from qmri.errors import QmriError
from qmri.physics.likelihood import Gaussian, Likelihood, NoiseModel
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


@dataclass
class MLEResult:
    """Estimated maps ``kappa`` (batch, Q, H, W), NaN outside the fitted voxels, in data units."""

    kappa: torch.Tensor
    sigma: float
    objective: list[float]
    converged: bool


class VoxelGraph:
    """The fitted voxels of a ``(batch, H, W)`` mask as a flat list with their in-plane 4-neighbours.

    ``neighbours`` is ``(M * 4,)``: for each voxel the flat indices of its 4 neighbours, where a
    neighbour outside the image or not fitted points back at the voxel itself. Such self-edges
    add nothing to differences, so ``L x = 4 x - sum(x[neighbours])`` needs no masks or padding.
    """

    def __init__(self, valid: torch.Tensor):
        b, h, w = valid.shape
        self.valid = valid
        self.index = valid.reshape(-1).nonzero()[:, 0]  # shape (M,)
        m = len(self.index)
        own = torch.arange(m, device=valid.device)
        lookup = torch.full((b, h + 2, w + 2), -1, dtype=torch.long, device=valid.device)
        lookup[:, 1:-1, 1:-1][valid] = own
        bi, yi, xi = valid.nonzero().unbind(1)
        near = torch.stack([lookup[bi, yi, xi + 1], lookup[bi, yi + 2, xi + 1],
                            lookup[bi, yi + 1, xi], lookup[bi, yi + 1, xi + 2]], dim=1)  # shape (M, 4)
        self.degree = (near >= 0).sum(dim=1)
        self.neighbours = torch.where(near >= 0, near, own[:, None]).reshape(-1)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Return the neighbours' values ``(M, 4)`` of a per-voxel vector ``x`` (M,); own value where absent."""
        return torch.index_select(x, 0, self.neighbours).view(-1, 4)

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``L x``: the sum over valid neighbours of ``x_m - x_n``, shape (M,)."""
        return 4.0 * x - self.gather(x).sum(dim=1)

    def prior_share(self, x: torch.Tensor, lambda_b: float) -> torch.Tensor:
        """Return each voxel's share of ``(lambda_b / 2) x^T L x``: half of each of its edges, (M,)."""
        diff = x[:, None] - self.gather(x)
        return 0.25 * lambda_b * (diff * diff).sum(dim=1)

    def scatter(self, values: torch.Tensor, fill: float = float("nan")) -> torch.Tensor:
        """Return per-voxel ``values`` (M, Q) as maps ``(batch, Q, H, W)``, ``fill`` elsewhere."""
        b, h, w = self.valid.shape
        out = values.new_full((b * h * w, values.shape[1]), fill)
        out[self.index] = values
        return out.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def _conjugate_gradient(diag: torch.Tensor, lambda_b: float, rhs: torch.Tensor, graph: VoxelGraph,
                        max_iter: int, tol: float) -> torch.Tensor:
    """Solve ``(diag(diag) + lambda_b L) x = rhs`` with Jacobi-preconditioned conjugate gradients."""
    precond = 1.0 / (diag + lambda_b * graph.degree)
    x = rhs * precond
    r = rhs - (diag * x + lambda_b * graph.laplacian(x))
    z = r * precond
    p = z.clone()
    rz = (r * z).sum()
    stop = tol**2 * (rhs * rhs * precond).sum()
    for _ in range(max_iter):
        if rz <= stop:
            break
        ap = diag * p + lambda_b * graph.laplacian(p)
        alpha = rz / (p * ap).sum()
        x = x + alpha * p
        r = r - alpha * ap
        z = r * precond
        rz_new = (r * z).sum()
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


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
        d_b = _conjugate_gradient(schur, self.lambda_b, rhs, self.graph, settings.cg_max_iter, settings.cg_tol)
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


def levenberg_marquardt(problem: _Problem, kappa: torch.Tensor, settings: MLESettings
                        ) -> tuple[torch.Tensor, list[float], bool]:
    """Return ``(kappa, objective history, converged)`` after damped Fisher-scoring iterations.

    Damping per voxel follows Nielsen's rule (Madsen, Nielsen and Tingleff 2004, eq. 2.21) from the
    gain ratio rho = actual / predicted decrease. Converged: in three successive iterations no
    parameter of any voxel moved by more than ``settings.tol`` times its Cramer-Rao SD, i.e. the
    remaining steps are far below what the noise lets the data determine. Without a prior the voxels
    are independent, so each stops on its own: once its Newton decrement (the undamped step's length
    in noise SDs) is under tol, or after three steps under tol CRLB SDs that were rejected, stopped by
    a bound or lowered F by less than tol^2 / 2; later iterations only
    compute the voxels still moving (an active set: most converge in a few iterations, a few
    need tens).
    """
    coupled = problem.b is not None
    mu = kappa.new_full(kappa.shape[:1], 1e-3)
    nu = torch.full_like(mu, 2.0)
    data = problem.data_term(kappa)
    local = data + problem.prior_term(kappa)
    history = [local.sum().item()]
    quiet = torch.zeros(kappa.shape[:1], dtype=torch.long, device=kappa.device)  # per voxel if uncoupled
    kappa = kappa.clone()
    for _ in range(settings.max_iter):
        idx = None if coupled else (quiet < 3).nonzero()[:, 0]
        if idx is not None and len(idx) == 0:
            return kappa, history, True
        sub = problem if idx is None else problem.restrict(idx)
        k0, data0, local0, mu0, nu0 = ((x if idx is None else x[idx]) for x in (kappa, data, local, mu, nu))
        step, predicted, crlb, decrement = sub.step(k0, mu0, settings)
        trial = torch.clamp(k0 + step, problem.lower, problem.upper)
        trial_data = sub.data_term(trial)
        trial_local = trial_data + sub.prior_term(trial)
        better = trial_local < local0
        mixed = torch.where(better[:, None], trial, k0)
        mixed_data = torch.where(better, trial_data, data0)
        mixed_local = mixed_data + sub.prior_term(mixed)  # a voxel's prior share sees its neighbours
        if coupled and mixed_local.sum().item() > history[-1]:
            # the prior coupling made the partial step worse: reject all of it
            mu, nu = (mu * nu).clamp_max(1e12), nu * 2
            history.append(history[-1])
            continue
        rho = (local0 - trial_local) / predicted.clamp_min(1e-300)
        shrink = torch.clamp(1 - (2 * rho - 1) ** 3, min=1 / 3)
        mu0 = torch.where(better, mu0 * shrink, mu0 * nu0).clamp(1e-12, 1e12)
        nu0 = torch.where(better, torch.full_like(nu0, 2.0), nu0 * 2)
        moved = ((mixed - k0).abs() / crlb).nan_to_num(0.0).amax(dim=1)  # shape (active,)
        if idx is None:
            kappa, data, local, mu, nu = mixed, mixed_data, mixed_local, mu0, nu0
            quiet = quiet + 1 if moved.max().item() <= settings.tol else torch.zeros_like(quiet)
        else:
            kappa[idx], data[idx], local[idx], mu[idx], nu[idx] = mixed, mixed_data, mixed_local, mu0, nu0
            # quiet: the undamped step is negligible (its Newton decrement, in noise SDs), or a negligible
            # step was rejected (no progress left at that scale, e.g. on the kink of the modulus), stopped
            # by a bound, or gained nothing (a flat valley of a voxel without signal); an accepted short
            # step under heavy damping that still lowers F is on its way
            tiny = ((trial - k0).abs() / crlb).nan_to_num(0.0).amax(dim=1) <= settings.tol  # bounds applied
            clamped = (trial != k0 + step).any(dim=1)  # the step leaves the box: Newton's decrement ignores that
            # a decrease of F under tol^2 / 2 changes the likelihood ratio by a factor under 1.0001
            flat = (local0 - mixed_local) < 0.5 * settings.tol**2
            stuck = tiny & (~better | clamped | flat)
            # a small decrement bounds the distance left to the minimum: one suffices
            quiet[idx] = torch.where(decrement.nan_to_num(0.0) <= settings.tol, 3, torch.where(stuck, quiet[idx] + 1, 0))
        history.append(local.sum().item())
        if coupled and quiet[0].item() >= 3:
            return kappa, history, True
    return kappa, history, bool((quiet >= 3).all().item())


def estimate_sigma(model: SignalModel, signal: torch.Tensor, kappa: torch.Tensor, tau: torch.Tensor,
                   signed: bool = False) -> float:
    """Return the noise SD from the residuals of a voxel-wise Gaussian fit of ``signal`` (M, N).

    ``sigma^2 = median_m(RSS_m) / median(chi2_{N-Q})``: the median is robust to the few voxels a
    fit leaves in a local minimum, and the chi-square median makes it consistent for Gaussian noise.
    """
    n, q = signal.shape[1], model.n_params
    if n <= q:
        raise QmriError(f"cannot estimate the noise level from {n} images and {q} parameters; give --sigma")
    fitted = model.signed(kappa, tau) if signed else model.forward(kappa, tau)
    rss = ((signal - fitted) ** 2).sum(dim=1)
    return math.sqrt(rss.median().item() / stats.chi2.median(n - q))


def fit(model: SignalModel, signal: torch.Tensor, tau_ms: torch.Tensor | list[float],
        sigma: float | None = None, mask: torch.Tensor | None = None,
        settings: MLESettings = MLESettings(), noise: NoiseModel | None = None) -> MLEResult:
    """Return the regularised MLE of ``signal`` (batch, N, H, W) in any intensity scale.

    ``sigma`` is the noise SD in the data's units; when None it is estimated from the residuals of a
    voxel-wise (lambda_B = 0) Gaussian fit, which is not the start of the regularised fit. With
    lambda_B > 0 the start is a uniform B (the median of the voxel-wise grid search) with A and T1
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
        # a noisy voxel-wise B would take many iterations to drift together under the prior.
        b_start = kappa[:, model.index("B")].median().item()
        kappa = grid_search(model, data, tau, fixed={"B": b_start}, signed=noise.signed)
    if sigma is None:
        # the voxel-wise fit only measures the noise: its noisy B must not start the regularised fit
        gaussian = Gaussian(noise.signed)
        voxelwise, _, _ = levenberg_marquardt(_Problem(model, data, tau, 1.0, graph, 0.0, gaussian), kappa, settings)
        sigma_n = estimate_sigma(model, data, voxelwise, tau, signed=noise.signed)
    elif sigma > 0:
        sigma_n = sigma / scale
    else:
        raise QmriError(f"sigma must be positive, got {sigma}")
    if not isinstance(noise, Gaussian):
        # the Gaussian fit is the same above an SNR of about 3 and a close start below: it leaves the
        # costlier likelihood (Bessel functions per image) only the last few iterations
        gaussian = _Problem(model, data, tau, sigma_n, graph, settings.lambda_b, Gaussian(noise.signed))
        kappa, _, _ = levenberg_marquardt(gaussian, kappa, settings)
    problem = _Problem(model, data, tau, sigma_n, graph, settings.lambda_b, noise)
    kappa, history, converged = levenberg_marquardt(problem, kappa, settings)
    kappa[:, 0] *= scale
    return MLEResult(kappa=graph.scatter(kappa), sigma=sigma_n * scale, objective=history, converged=converged)


def crlb_sd(model: SignalModel, kappa: torch.Tensor, tau_ms: torch.Tensor | list[float], sigma: float,
            noise: NoiseModel | None = None) -> torch.Tensor:
    """Return the Cramér-Rao lower bound on the SD of each parameter, ``(batch, Q, H, W)``.

    Fisher information of the noise model (default Gaussian: ``I = J^T J / sigma^2``) per voxel, no
    prior. NaN where ``kappa`` is NaN or I is singular.
    """
    kappa = kappa.to(torch.float64)
    tau = torch.as_tensor(tau_ms, dtype=torch.float64, device=kappa.device)
    info = Likelihood(model, noise).fisher_information(torch.nan_to_num(kappa, nan=1.0), tau, float(sigma))
    cov, status = torch.linalg.inv_ex(info)  # shape (batch, H, W, Q, Q)
    sd = torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0).sqrt().permute(0, 3, 1, 2)
    bad = (status != 0)[:, None] | ~torch.isfinite(kappa).all(dim=1, keepdim=True)
    return torch.where(bad, torch.full_like(sd, float("nan")), sd)


def reference_fit(model: SignalModel, signal: np.ndarray, tau_ms: np.ndarray, start: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(kappa, cost)`` of a slow per-voxel ``scipy.optimize.least_squares`` fit (lambda_B = 0).

    The obvious reference for ``fit``: one trust-region reflective solve per voxel of ``signal``
    (M, N), started at ``start`` (M, Q), with the same bounds and analytic Jacobian.
    ``cost`` is ``0.5 * RSS`` per voxel, in the data's units.
    """
    from scipy.optimize import least_squares

    tau = torch.as_tensor(np.asarray(tau_ms, dtype=np.float64))
    lower, upper = np.array([p.bounds for p in model.parameters]).T
    upper[0] *= max(float(np.max(signal)), 1e-12)  # A's bound is relative to the data

    def residual(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        return model.forward(torch.from_numpy(x)[None], tau)[0].numpy() - s

    def jacobian(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        return model.jacobian(torch.from_numpy(x)[None], tau)[0].numpy().T  # shape (N, Q)

    kappa = np.empty_like(start, dtype=np.float64)
    cost = np.empty(len(signal))
    for m in range(len(signal)):  # deliberately one voxel at a time: this is the slow reference
        x0 = np.clip(start[m], lower, upper)
        result = least_squares(residual, x0, jac=jacobian, bounds=(lower, upper), method="trf",
                               x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, args=(signal[m],))
        kappa[m], cost[m] = result.x, result.cost
    return kappa, cost
