"""The MLE's Laplacian prior on B: the fitted voxels as a graph of in-plane 4-neighbours, and the conjugate
gradients that solve its coupled B system (``qmri.estimators.mle.solver``)."""

from __future__ import annotations

import functools
import math

import torch


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
        self.slice = bi  # shape (M,): the slice of each voxel
        self.n_slices = b
        self.slice_sizes = torch.bincount(bi, minlength=b)  # shape (batch,): voxels per slice

    def slice_sum(self, x: torch.Tensor) -> torch.Tensor:
        """Return the sum of a per-voxel vector ``x`` (M,) over each slice, shape (batch,)."""
        return x.new_zeros(self.n_slices).index_add_(0, self.slice, x)

    def slice_max(self, x: torch.Tensor) -> torch.Tensor:
        """Return the maximum of ``x`` (M,) over each slice, shape (batch,); -inf for a slice without voxels."""
        return x.new_full((self.n_slices,), -math.inf).scatter_reduce_(0, self.slice, x, "amax")

    def slice_median(self, x: torch.Tensor) -> torch.Tensor:
        """Return the lower median of ``x`` (M,) over each slice (``torch.median``'s, an element of ``x``),
        shape (batch,); NaN for a slice without voxels."""
        counts = self.slice_sizes
        by_value = torch.argsort(x, stable=True)
        order = by_value[torch.argsort(self.slice[by_value], stable=True)]  # by slice, then value
        first = torch.cumsum(counts, 0) - counts
        middle = (first + (counts - 1).clamp_min(0) // 2).clamp_max(max(len(x) - 1, 0))
        median = x[order[middle]] if len(x) else x.new_zeros(self.n_slices)
        return torch.where(counts > 0, median, torch.nan)

    def slice_groups(self, voxels: int) -> list[torch.Tensor]:
        """Return runs of consecutive slices of at most ``voxels`` voxels together (one slice at least) as
        masks (batch,); slices without a voxel are in none."""
        groups, total = [], 0
        for i, count in enumerate(self.slice_sizes.tolist()):
            if count == 0:
                continue
            if not groups or total + count > voxels:
                groups.append(torch.zeros(self.n_slices, dtype=torch.bool, device=self.slice.device))
                total = 0
            groups[-1][i] = True
            total += count
        return groups

    @functools.cached_property
    def blocks(self) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """Return the voxels laid out slice by slice in a ``(batch, L)`` block, L the most voxels of a
        slice: each voxel's flat position in the block (M,), the block's 4-neighbour indices
        (batch * L * 4,) with every padding entry its own neighbour, and the block's shape. In the
        block a per-slice sum is a row sum (a reshape, no scatter)."""
        counts = self.slice_sizes
        width = int(counts.max().item()) if len(self.slice) else 0
        rank = torch.arange(len(self.slice), device=self.slice.device) - (torch.cumsum(counts, 0) - counts)[self.slice]
        position = self.slice * width + rank
        size = self.n_slices * width
        neighbours = torch.arange(size, device=position.device).repeat_interleave(4).view(size, 4)
        neighbours[position] = position[self.neighbours].view(-1, 4)
        return position, neighbours.reshape(-1), (self.n_slices, width)

    def of_slices(self, keep: torch.Tensor) -> tuple[VoxelGraph, torch.Tensor]:
        """Return the graph of the slices where ``keep`` (batch,) is true, and the indices (M',) of their
        voxels in this graph's order (which is the new graph's)."""
        return VoxelGraph(self.valid[keep]), keep[self.slice].nonzero()[:, 0]

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Return the neighbours' values ``(M, 4)`` of a per-voxel vector ``x`` (M,); own value where absent."""
        return torch.index_select(x, 0, self.neighbours).view(-1, 4)

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``L x``: the sum over valid neighbours of ``x_m - x_n``, shape (M,)."""
        return _laplacian(x, self.neighbours)

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


def _laplacian(x: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """Return ``4 x - sum of the 4 neighbours`` of each entry of ``x``, the neighbours' indices flat (4 len(x),)."""
    return 4.0 * x - torch.index_select(x, 0, neighbours).view(-1, 4).sum(dim=1)


def conjugate_gradient(diag: torch.Tensor, lambda_b: float, rhs: torch.Tensor, graph: VoxelGraph,
                        max_iter: int, tol: float) -> torch.Tensor:
    """Solve ``(diag(diag) + lambda_b L) x = rhs`` with Jacobi-preconditioned conjugate gradients.

    No edge joins two slices, so each slice is a system of its own: its step lengths, its stopping test
    (preconditioned residual under ``tol`` relative) and hence its solution read its own voxels only.
    The iterations run on the graph's ``blocks`` layout, where the sums per slice are row sums.
    """
    position, neighbours, shape = graph.blocks

    def block(values: torch.Tensor, fill: float) -> torch.Tensor:
        out = values.new_full((shape[0] * shape[1],), fill)
        out[position] = values
        return out

    def rows(values: torch.Tensor) -> torch.Tensor:
        return values.view(shape).sum(dim=1, keepdim=True)

    def operator(v: torch.Tensor) -> torch.Tensor:  # padding: diag 1, own neighbour: stays 0
        return diag_b * v + lambda_b * _laplacian(v, neighbours)

    diag_b, rhs_b = block(diag, 1.0), block(rhs, 0.0)
    precond = 1.0 / (diag_b + lambda_b * block(graph.degree.to(diag.dtype), 0.0))
    x = rhs_b * precond
    r = rhs_b - operator(x)
    z = r * precond
    p = z.clone()
    rz = rows(r * z)  # shape (batch, 1)
    stop = tol**2 * rows(rhs_b * rhs_b * precond)
    for _ in range(max_iter):
        done = rz <= stop
        if done.all():
            break
        ap = operator(p)
        alpha = torch.where(done, 0.0, rz / rows(p * ap))
        x = (x.view(shape) + alpha * p.view(shape)).view(-1)
        r = (r.view(shape) - alpha * ap.view(shape)).view(-1)
        z = r * precond
        rz_new = rows(r * z)
        p = (z.view(shape) + torch.where(done, 0.0, rz_new / rz) * p.view(shape)).view(-1)
        rz = rz_new
    return x[position]
