"""Our any-protocol RIM (``arim``): training data, the pooled start, the pooled cell, packaged weights."""

import json
import math

import nibabel as nib
import numpy as np
import pytest
import torch

from helpers import IV_T1, T2_PREP
from qmri.cli import main
from qmri.errors import QmriError
from qmri.estimators.mle import crlb_sd
from qmri.estimators.networks.checkpoint import build_network, load_model, predict, shipped_weights
from qmri.estimators.networks.start import _profile_at, box_sum, kin_sum, profile_start
from qmri.physics.signal import InversionRecovery, T2Decay, model_for_task
from qmri.simulation.anyprotocol import AnyProtocolSettings, draw_maps, draw_protocol, measurable

SETTINGS = AnyProtocolSettings()


def test_generator_covers_the_ranges_it_claims():
    gen = torch.Generator().manual_seed(0)
    kappa, mask, sigma = draw_maps(InversionRecovery(), 256, SETTINGS, gen)
    t1 = kappa[:, 2][mask]
    lo, hi = SETTINGS.t1_range_ms
    assert t1.min() >= lo and t1.max() <= hi
    # log-uniform: each decade of the range holds pixels, the extremes within 5 % of the ends (in log)
    assert math.log(t1.min() / lo) < 0.05 * math.log(hi / lo) and math.log(hi / t1.max()) < 0.05 * math.log(hi / lo)
    for decade in (30, 300, 3000):
        assert ((t1 > decade) & (t1 < 1.5 * decade)).any()
    b = kappa[:, 1]
    constant = (b.amax(dim=(1, 2)) - b.amin(dim=(1, 2))) < 1e-6
    assert 0.3 < constant.float().mean() < 0.7  # constant B and smooth B fields, about half each
    # incomplete recovery lowers B where T1 is long against TR, never below 1 (no inversion at all)
    assert b.min() >= 1.0 and b.max() <= SETTINGS.b_range[1] + SETTINGS.b_field
    assert (~mask).any() and mask.float().mean() > 0.5  # background in some maps, object in most pixels
    level = (kappa[:, 0] * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))
    snr = level / sigma
    assert snr.min() >= SETTINGS.snr_range[0] * 0.999 and snr.max() <= SETTINGS.snr_range[1] * 1.001
    assert snr.min() < 7 and snr.max() > 120
    t2, _, _ = draw_maps(T2Decay(), 64, SETTINGS, gen)
    assert t2[:, 1].min() >= SETTINGS.t2_range_ms[0] and t2[:, 1].max() <= SETTINGS.t2_range_ms[1]


@pytest.mark.parametrize("task", ["t1", "t2"])
def test_protocols_drawn_cover_counts_ranges_and_spacings(task):
    rng = np.random.default_rng(1)
    draws = [draw_protocol(task, SETTINGS, rng) for _ in range(400)]
    n_lo, n_hi, first_lo, first_hi, last_lo, last_hi = (SETTINGS.t1_protocols if task == "t1"
                                                        else SETTINGS.t2_protocols)
    counts = {len(t) for t in draws}
    assert min(counts) == n_lo and max(counts) == n_hi
    assert all(np.all(np.diff(t) > 0) for t in draws)
    assert min(t[0] for t in draws) >= first_lo - 0.05 and max(t[0] for t in draws) <= first_hi + 0.05
    assert max(t[-1] for t in draws) <= max(last_hi, 3 * first_hi) + 0.05
    linear = sum(np.allclose(np.diff(t), np.diff(t)[0], atol=0.2) for t in draws if len(t) > 3)
    assert 0.3 * len(draws) < linear < 0.7 * len(draws)


def test_measurable_drops_pixels_without_signal():
    model = T2Decay()
    kappa = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1).repeat(1, 1, 1, 2)
    kappa[0, 1, 0, 1] = 100.0  # T2 2 ms is gone by the first echo at 10 ms, 100 ms is not
    keep = measurable(model, kappa, torch.tensor(T2_PREP), torch.tensor([0.01]), torch.ones(1, 1, 2, dtype=torch.bool))
    assert keep.tolist() == [[[False, True]]]


def test_box_sum_matches_a_loop():
    x = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    window = 5
    slow = torch.zeros_like(x)
    for i in range(9):
        for j in range(11):
            slow[..., i, j] = x[..., max(0, i - 2):i + 3, max(0, j - 2):j + 3].sum(dim=(-2, -1))
    torch.testing.assert_close(box_sum(x, window), slow)


def test_kin_sum_matches_a_loop_over_pixel_pairs():
    """Each pixel pools the window's pixels with weight sum_c h_c(p) h_c(q): 1 for the same log T at a hat's
    centre, falling to 0 at twice the hats' half-width apart."""
    gen = torch.Generator().manual_seed(4)
    rss = torch.rand(2, 3, 7, 8, generator=gen, dtype=torch.float64)
    log_time = torch.empty(2, 7, 8, dtype=torch.float64).uniform_(5.0, 6.0, generator=gen)
    window, kin = 5, 0.3
    position = (log_time - log_time.min()) / kin
    slow = torch.zeros_like(rss)
    for n in range(2):
        for i in range(7):
            for j in range(8):
                for k in range(max(0, i - 2), min(7, i + 3)):
                    for m in range(max(0, j - 2), min(8, j + 3)):
                        a, b = float(position[n, i, j]), float(position[n, k, m])
                        weight = sum(max(0.0, 1 - abs(a - c)) * max(0.0, 1 - abs(b - c)) for c in range(12))
                        slow[n, :, i, j] += weight * rss[n, :, k, m]
    torch.testing.assert_close(kin_sum(rss, log_time, window, kin), slow)


def test_kin_start_finds_b_that_follows_t1_where_the_window_cannot():
    """Incomplete recovery at TR 4.5 s: B' = B / (1 + (B - 1) e^(-TR/T1)) differs between a short-T1 and a
    long-T1 half of the image (1.95 against 1.70). One window's B lies between them; the kin start's B is each
    half's within 4 pooled SDs plus 0.01 for the grid, as the window's is on one B (test below)."""
    model = InversionRecovery()
    gen = torch.Generator().manual_seed(5)
    tau = torch.tensor([35.0, 75, 100, 125, 150, 250, 1000, 1500, 2000, 3000])  # the NIST plates' TIs
    sigma, b_full, tr = 1 / 50, 1.95, 4500.0
    t1 = torch.full((32, 32), 150.0)
    t1[:, 16:] = 1900.0
    b_true = b_full / (1 + (b_full - 1) * torch.exp(-tr / t1))
    kappa = torch.stack([torch.ones(32, 32), b_true, t1])[None]
    signal = model.forward(kappa, tau) + sigma * torch.randn(1, len(tau), 32, 32, generator=gen)
    mask = torch.ones(1, 32, 32, dtype=torch.bool)
    window = profile_start(model, signal, tau, mask, window=65)[0, 1]
    kin = profile_start(model, signal, tau, mask, window=65, pool="kin")[0, 1]
    auto = profile_start(model, signal, tau, mask, window=65, pool="auto")[0, 1]
    pixel_sd = crlb_sd(model, kappa.double(), tau.double(), sigma)[0, 1]
    window_errors = []
    for half in (slice(0, 16), slice(16, 32)):
        truth = float(b_true[0, half].mean())
        pooled_sd = float((pixel_sd[:, half] ** -2).sum() ** -0.5)
        assert abs(float(kin[:, half].mean()) - truth) < 4 * pooled_sd + 0.01
        assert abs(float(auto[:, half].mean()) - truth) < 4 * pooled_sd + 0.01  # the kin's evidence wins
        window_errors.append(abs(float(window[:, half].mean()) - truth))
    assert max(window_errors) > 0.1  # the window's one B sits near the short T1's, which pins it better


def test_profile_start_pools_b_over_the_slice():
    """At SNR 30 a pixel's B is barely determined; pooled over the slice it is within 4 pooled SDs of the truth,
    plus 0.01 for the time grid (8.7 % steps, refined by a parabola)."""
    model = InversionRecovery()
    gen = torch.Generator().manual_seed(3)
    tau = torch.tensor(IV_T1)
    sigma = 1 / 30
    for b_true in (1.65, 1.95):
        kappa = torch.stack([torch.ones(64, 64), torch.full((64, 64), b_true),
                             torch.exp(torch.empty(64, 64).uniform_(6.4, 7.3, generator=gen))])[None]
        signal = model.forward(kappa, tau) + sigma * torch.randn(1, len(tau), 64, 64, generator=gen)
        start = profile_start(model, signal, tau, torch.ones(1, 64, 64, dtype=torch.bool))
        pixel_sd = crlb_sd(model, kappa.double(), tau.double(), sigma)[0, 1]
        pooled_sd = float((pixel_sd ** -2).sum() ** -0.5)
        assert pixel_sd.median() > 0.05  # one pixel says little about B
        assert abs(start[0, 1].mean().item() - b_true) < 4 * pooled_sd + 0.01
        assert torch.allclose(start[0, 1], start[0, 1, 0, 0])  # one B for the slice without a window
        mask = torch.ones(1, 64, 64, dtype=torch.bool)  # one B holds: the kin's evidence against it is noise
        assert torch.equal(profile_start(model, signal, tau, mask, 65, "auto"), profile_start(model, signal, tau, mask, 65))
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as in training: the grid search stays float32
            assert torch.equal(profile_start(model, signal, tau, torch.ones(1, 64, 64, dtype=torch.bool)), start)


def test_profile_at_is_the_parabola_through_the_nearest_grid_values():
    """On a quadratic profile the parabola is exact anywhere inside the grid, the ends included."""
    index = torch.tensor([0.0, 0.3, 2.5, 6.7, 9.0])
    grid = torch.arange(10.0).view(1, 10, 1, 1).expand(1, 10, 1, 5)
    profile = 3 * (grid - 4.2) ** 2 + 1
    torch.testing.assert_close(_profile_at(profile, index).view(-1), 3 * (index - 4.2) ** 2 + 1)


def test_profile_start_takes_t1_at_the_pooled_b_between_grid_values():
    """Noise-free, B half-way between two B grid values (step 0.1): T1 and A at the grid value nearest the pooled B
    would be 4-7 % off through the B/T1 trade-off; at the pooled B the error is the grids' (time grid steps of 8.7 %
    and B refined by parabolas: below 0.5 % measured), so 1 % is the bound."""
    model = InversionRecovery()
    gen = torch.Generator().manual_seed(3)
    tau = torch.tensor(IV_T1)
    for b_true in (1.55, 1.85):
        t1 = torch.exp(torch.empty(64, 64).uniform_(6.4, 7.3, generator=gen))
        kappa = torch.stack([torch.ones(64, 64), torch.full((64, 64), b_true), t1])[None]
        start = profile_start(model, model.forward(kappa, tau), tau, torch.ones(1, 64, 64, dtype=torch.bool))[0]
        assert abs(float((start[2] / t1 - 1).median())) < 0.01
        assert abs(float((start[0] - 1).median())) < 0.01


def test_without_its_cell_our_rim_returns_its_start():
    """``use_cell`` False (the benchmarks' start-alone baseline) returns the start in network units, one estimate;
    with a cell that updates, the estimate moves."""
    torch.manual_seed(2)
    model = InversionRecovery()
    tau = torch.tensor(IV_T1)
    signal = model.forward(torch.tensor([1.0, 1.9, 900.0]).view(1, 3, 1, 1).expand(1, 3, 8, 8), tau)
    net = build_network("arim", model, len(tau), rim_steps=2, rim_features=4).eval()
    torch.nn.init.normal_(net.cell.conv_out.weight, std=0.1)
    mask = torch.ones(1, 8, 8, dtype=torch.bool)
    net.use_cell = False
    with torch.no_grad():
        alone = net(signal, tau, mask)
        net.use_cell = True
        moved = net(signal, tau, mask)[-1]
    assert len(alone) == 1
    torch.testing.assert_close(alone[0], net.start(signal, tau, mask))
    assert (moved - alone[0]).abs().max() > 1e-3


def test_pooled_cell_sees_the_whole_image_and_the_paper_cell_does_not():
    """A pixel 60 pixels away is outside the paper RIM's receptive field (6 pixels per step, J = 6) but inside the
    image-wide pool of ours."""
    torch.manual_seed(4)
    model = InversionRecovery()
    tau = torch.tensor(IV_T1)
    signal = model.forward(torch.tensor([1.0, 1.9, 900.0]).view(1, 3, 1, 1).expand(1, 3, 8, 80), tau)
    changed = signal.clone()
    changed[..., 4, 75] *= 1.5
    for method, reaches in (("rim", False), ("arim", True)):
        net = build_network(method, model, len(tau))
        torch.nn.init.normal_(net.cell.conv_out.weight, std=0.1)  # untrained RIMs make no update
        with torch.no_grad():
            a, b = (net(x, tau)[-1][..., 4, 5] for x in (signal, changed))
        assert (not torch.allclose(a, b)) == reaches, method


def test_a_jittered_start_moves_half_the_training_maps_and_never_an_inference():
    """With ``start_jitter`` s, about JITTER_SHARE of 200 training maps start off their conditional fit, by one
    offset per map and parameter plus one per pixel (each SD s: the moved maps' map-mean offsets have SD about s);
    in evaluation mode the start is the plain one."""
    from qmri.estimators.networks.rim import JITTER_SHARE

    torch.manual_seed(5)
    model, tau = InversionRecovery(), torch.tensor(IV_T1)
    kappa = torch.tensor([1.0, 1.9, 900.0]).view(1, 3, 1, 1).expand(200, 3, 8, 8)
    signal = model.forward(kappa, tau) + 0.02 * torch.randn(200, len(tau), 8, 8)
    mask = torch.ones(200, 8, 8, dtype=torch.bool)
    plain = build_network("arim", model, len(tau)).start(signal, tau, mask)
    net = build_network("arim", model, len(tau), start_jitter=0.3)
    assert torch.equal(net.eval().start(signal, tau, mask), plain)
    offset = net.train().start(signal, tau, mask) - plain  # shape (200, 3, 8, 8)
    moved = offset.abs().amax(dim=(1, 2, 3)) > 0
    binomial_sd = math.sqrt(JITTER_SHARE * (1 - JITTER_SHARE) / 200)
    assert abs(moved.float().mean().item() - JITTER_SHARE) < 4 * binomial_sd
    map_means = offset[moved].mean(dim=(2, 3))  # shape (moved, 3): the map's offset plus a mean of 64 pixels'
    expected_sd = 0.3 * math.sqrt(1 + 1 / 64)
    assert abs(map_means.std().item() / expected_sd - 1) < 4 / math.sqrt(2 * map_means.numel())
    assert abs((offset[moved] - map_means[..., None, None]).std().item() / 0.3 - 1) < 0.05


def test_a_pickled_checkpoint_is_refused_with_one_line(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": 2, "payload": Payload()}, path)
    with pytest.raises(QmriError, match="cannot read weights") as err:
        load_model(path)
    assert "\n" not in str(err.value)
    assert "this ran" not in capsys.readouterr().out


@pytest.mark.parametrize("task", ["t1", "t2"])
def test_packaged_weights_load_and_carry_a_model_card(task):
    path = shipped_weights(task)
    net, meta = load_model(path)
    assert meta["method"] == "arim" and meta["task"] == task and meta["tau_ms"] == []
    card = path.with_suffix(".json")
    assert card.exists()
    assert path.stat().st_size < 2_000_000


def _slice(model, tau, sigma, gen, size=48):
    """Two tissues in a disc on background, B 1.85 (T1) or none (T2)."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = (y - size / 2) ** 2 + (x - size / 2) ** 2 < (0.42 * size) ** 2
    left = x < size / 2
    values = {"t1": ([1.0, 1.85, 800.0], [0.8, 1.85, 1400.0]), "t2": ([1.0, 70.0], [0.8, 110.0])}[model.task]
    kappa = torch.where(left, torch.tensor(values[0]).view(-1, 1, 1), torch.tensor(values[1]).view(-1, 1, 1))
    kappa = kappa * disc
    signal = model.forward(kappa[None], tau) + sigma * torch.randn(1, len(tau), size, size, generator=gen)
    return kappa, signal, disc


@pytest.mark.parametrize("task,counts", [("t1", (6, 10, 23, 31)), ("t2", (4, 6, 10, 32))])
def test_one_packaged_model_maps_every_protocol(task, counts):
    """One model per task maps any number of images; the median relative error of the measured time over the
    object is within 3 CRLB SDs of a pixel (relative) plus 3 % for the model's bias."""
    model = model_for_task(task)
    net, meta = load_model(shipped_weights(task))
    gen = torch.Generator().manual_seed(5)
    sigma = 0.02  # SNR 50 against the brighter tissue
    for n in counts:
        tau = torch.tensor(np.linspace(*((100.0, 2500.0) if task == "t1" else (10.0, 250.0)), n), dtype=torch.float32)
        kappa, signal, disc = _slice(model, tau, sigma, gen)
        maps = predict(net, meta, signal, tau.tolist(), task, mask=disc[None])
        q = model.n_params - 1
        error = (maps[0, q] / kappa[q] - 1)[disc].abs().median().item()
        crlb = (crlb_sd(model, kappa[None].double(), tau.double(), sigma)[0, q] / kappa[q])[disc].median().item()
        assert error < 3 * crlb + 0.03, (n, error, crlb)


def test_cli_fits_with_packaged_arim_and_no_weights(tmp_path):
    from helpers import phantom_t2, write_scan

    path = write_scan(tmp_path / "scan.nii.gz", phantom_t2(), 2.0, np.random.default_rng(6))
    assert main(["fit", path, "--task", "t2", "--method", "arim", "-o", str(tmp_path / "out")]) == 0
    t2 = nib.load(tmp_path / "out_T2map.nii.gz").get_fdata() * 1000  # s -> ms
    truth = phantom_t2()
    inside = truth > 0
    assert np.median(np.abs(t2[inside] / truth[inside] - 1)) < 0.05


def test_shipping_copies_the_weights_with_a_card_of_their_revision_and_quality_and_refuses_dirty_source(tmp_path):
    import pandas as pd

    from qmri.estimators.networks import packaged_weights
    from qmri.training.cards import ship

    meta = torch.load(packaged_weights("t1"), weights_only=True)
    trained = tmp_path / "t1.pt"
    torch.save(meta | {"git_revision": "0" * 40}, trained)
    quality = pd.DataFrame({"subject": [0, 0, 1, 1], "method": ["arim", "mle"] * 2, "abs_rb": [2.0, 1.0, 4.0, 1.5],
                            "cv": [3.0, 4.0, 5.0, 4.5], "b_estimate": [1.8, 1.85, 1.7, 1.9], "b": [1.82, 1.82, 1.9, 1.9]})
    phantoms = pd.DataFrame({"dataset": ["hp-t1", "hp-t1", "hp-t2"], "method": ["arim", "mle", "arim"],
                             "mean_abs_rb_pct": [2.0, 1.0, 3.0], "mean_cv_pct": [4.0, 2.0, 5.0]})
    card = ship(trained, tmp_path / "weights" / "arim-t1.pt", quality, phantoms)
    assert torch.load(tmp_path / "weights" / "arim-t1.pt", weights_only=True)["git_revision"] == "0" * 40
    written = json.loads((tmp_path / "weights" / "arim-t1.json").read_text())
    assert written == json.loads(json.dumps(card)) and card["git_revision"] == "0" * 40
    assert card["iterations"] == meta["iterations"]
    assert card["measured"]["bench_quality"]["mean_abs_rb_pct"] == {"arim": 3.0, "mle": 1.25}
    assert card["measured"]["bench_quality"]["subjects_cv_below_mle"] == 1
    assert card["measured"]["bench_quality"]["max_abs_b_error"] == pytest.approx(0.2)
    assert [k for k in card["measured"] if k.startswith("phantom")] == ["phantom hp-t1, in-range spheres"]  # T1's only
    torch.save(meta | {"git_revision": "0" * 40 + "+dirty"}, trained)
    with pytest.raises(QmriError, match="uncommitted|commit, train again"):
        ship(trained, tmp_path / "again.pt")
    assert not (tmp_path / "again.pt").exists()


@pytest.mark.parametrize("task", ["t1", "t2"])
def test_our_rims_data_terms_match_a_slow_per_pixel_reference(task):
    """``scaled``: the gradient over the root of the Fisher information's diagonal; ``gauss_newton``: the damped
    Gauss-Newton step, both in network units (N images, sigma 1), checked pixel by pixel with autograd."""
    from qmri.estimators.networks import scaling
    from qmri.estimators.networks.rim import GN_DAMPING, GN_MAX_STEP, AnyProtocolRIM

    model = model_for_task(task)
    tau = torch.tensor(IV_T1 if task == "t1" else T2_PREP, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    truth = torch.tensor([[1.0, 1.9, 900.0] if task == "t1" else [1.0, 80.0]], dtype=torch.float64)
    truth = truth.view(1, -1, 1, 1).repeat(1, 1, 2, 3) * (1 + 0.1 * torch.rand((1, model.n_params, 2, 3),
                                                                                generator=generator, dtype=torch.float64))
    ones = torch.ones((1, 1, 1, 1), dtype=torch.float64)
    images = model.forward(truth, tau) + 0.02 * torch.randn((1, len(tau), 2, 3), generator=generator,
                                                            dtype=torch.float64)
    start = scaling.to_network(truth, model, ones) + 0.3 * torch.randn(truth.shape, generator=generator,
                                                                       dtype=torch.float64)
    terms = {}
    for term in ("gradient", "scaled", "gauss_newton"):
        net = AnyProtocolRIM(model, data_term=term).double()
        terms[term] = net.gradient(start, images, tau)
    def residual(kappa_net, pixel):
        kappa = scaling.from_network(kappa_net.view(1, -1, 1, 1), model, ones)
        return (model.forward(kappa, tau) - pixel).flatten()

    for y in range(2):
        for x in range(3):
            pixel, point = images[:, :, y:y + 1, x:x + 1], start[0, :, y, x].clone()
            jac = torch.autograd.functional.jacobian(lambda k, p=pixel: residual(k, p), point)  # shape (N, Q)
            grad = jac.T @ residual(point, pixel) / len(tau)
            fisher = jac.T @ jac / len(tau)
            assert torch.allclose(terms["gradient"][0, :, y, x], grad, rtol=1e-6, atol=1e-9)
            assert torch.allclose(terms["scaled"][0, :, y, x], grad / fisher.diagonal().sqrt(), rtol=1e-6)
            step = torch.linalg.solve(fisher + GN_DAMPING * torch.diag(fisher.diagonal()), grad)
            assert torch.allclose(terms["gauss_newton"][0, :, y, x], step.clamp(-GN_MAX_STEP, GN_MAX_STEP), rtol=1e-6)


@pytest.mark.parametrize("task, setting, value, unknown", [("t2", "data_term", "gauss_newton", "residual"),
                                                            ("t1", "start_pool", "kin", "voxel"),
                                                            ("t1", "start_jitter", 0.3, -1.0)])
def test_an_arim_trained_with_another_setting_records_it_and_maps_with_it(tmp_path, task, setting, value, unknown):
    from qmri.training import TrainSettings, train

    settings = TrainSettings(iterations=2, batch_size=2, checkpoint_every=1, **{setting: value})
    train("arim", "any", task, None, None, settings, 0, tmp_path / "m.pt", tmp_path / "m.csv", progress=False)
    net, meta = load_model(tmp_path / "m.pt")
    assert meta["settings"][setting] == value and getattr(net, setting) == value
    with pytest.raises(QmriError, match=f"{setting} must be"):
        TrainSettings(**{setting: unknown})


def test_real_protocols_are_drawn_in_their_share_of_batches_and_the_presets_give_the_nist_plates():
    from qmri.pipeline.plan import preset_protocols

    real = preset_protocols(["presets/real-phantom.yaml"])
    assert real["t1_real"] == [[35.0, 75.0, 100.0, 125.0, 150.0, 250.0, 1000.0, 1500.0, 2000.0, 3000.0]]
    assert len(real["t2_real"]) == 1 and len(real["t2_real"][0]) == 32
    settings = AnyProtocolSettings(**real, real_share=0.25)
    rng = np.random.default_rng(0)
    draws = [draw_protocol("t1", settings, rng) for _ in range(400)]
    share = np.mean([list(d) == real["t1_real"][0] for d in draws])
    assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 400)  # binomial: 4 SDs
    # without real protocols, or with a zero share, the random stream is the one trained before they existed
    for task, other in (("t2", AnyProtocolSettings(t1_real=[[1, 2]])), ("t1", AnyProtocolSettings(**real, real_share=0))):
        a, b = np.random.default_rng(1), np.random.default_rng(1)
        assert [list(draw_protocol(task, AnyProtocolSettings(), a)) for _ in range(5)] == [
            list(draw_protocol(task, other, b)) for _ in range(5)]


def test_the_cosine_schedule_falls_from_the_learning_rate_to_zero_and_a_constant_one_stays():
    from qmri.training import TrainSettings

    cosine = TrainSettings(iterations=100, learning_rate=1e-3, lr_schedule="cosine")
    assert cosine.rate(0) == 1e-3 and cosine.rate(50) == pytest.approx(5e-4) and cosine.rate(100) == pytest.approx(0)
    assert all(cosine.rate(i) > cosine.rate(i + 1) for i in range(100))
    assert {TrainSettings(iterations=100).rate(i) for i in range(100)} == {1e-3}
    with pytest.raises(QmriError, match="lr_schedule must be"):
        TrainSettings(lr_schedule="step")
