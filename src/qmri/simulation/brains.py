"""Brain models: tissue label volumes from BrainWeb-20 or from the MNI152 2009a templates.

Every model is a 3D uint8 volume of BrainWeb crisp class codes (see ``qmri.simulation.tissues``) in
``(x, y, z)`` order with a RAS affine in mm; axial slices run along the last axis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from qmri.data.io import load_nifti, read_json, save_nifti, write_json
from qmri.errors import QmriError
from qmri.simulation import tissues as T

#: BrainWeb crisp models: 0.5 mm isotropic; the server sends (z, y, x) order
BRAINWEB_AFFINE = np.array([[0.5, 0, 0, -90.25], [0, 0.5, 0, -126.25], [0, 0, 0.5, -72.25], [0, 0, 0, 1]])

#: Layers of the MNI152 head shell, outward from the intracranial surface:
#: (outer distance in mm, class). Adult means from anatomy texts: 1 mm dura, a 6 mm skull
#: made of two ~1.5 mm cortical tables around ~3 mm of marrow-filled diploe, then a scalp
#: of ~8 mm (galea/muscle, subcutaneous fat, skin). Used because nilearn's T1 template is
#: skull-stripped: it carries no head tissue that could be segmented.
HEAD_SHELL_MM: tuple[tuple[float, int], ...] = (
    (1.0, T.DURA), (2.5, T.SKULL), (5.5, T.MARROW), (7.0, T.SKULL),
    (9.5, T.MUSCLE), (12.5, T.FAT), (14.5, T.MUSCLE_SKIN),
)


@dataclass(frozen=True)
class BrainModel:
    """A label volume, its affine and the axial slices that training and tests may use."""

    name: str
    labels: np.ndarray  # shape (X, Y, Z), uint8 class codes
    affine: np.ndarray  # shape (4, 4), voxel -> mm
    train_slices: tuple[int, ...]
    test_slices: tuple[int, ...]


def spread(slices: tuple[int, ...], count: int) -> list[int]:
    """Return ``count`` of ``slices`` at quantiles ``(k + 1) / (count + 1)`` of them: spread out, the ends left."""
    return [slices[int(len(slices) * (k + 1) / (count + 1))] for k in range(count)]


def mni152_labels() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, affine)`` of the MNI152 2009a anatomy shipped inside nilearn.

    Rules, each from one template:
    - intracranial = the T1 template's non-zero support (it is brain-extracted) united with
      GM + WM probability > 0.1, holes filled slice by slice;
    - inside it, each voxel takes the most probable of GM, WM and CSF, where
      P(CSF) = 1 - P(GM) - P(WM) (ventricles and sulci have low GM/WM probability);
    - outside it, the layered head shell of ``HEAD_SHELL_MM`` by Euclidean distance in mm.
    Vessels are not modelled (no template carries them).
    """
    from nilearn import datasets

    t1_img = datasets.load_mni152_template(resolution=1)
    gm = datasets.load_mni152_gm_template(resolution=1).get_fdata()
    wm = datasets.load_mni152_wm_template(resolution=1).get_fdata()
    t1 = t1_img.get_fdata()
    affine = np.asarray(t1_img.affine)
    zooms = np.abs(np.diag(affine)[:3])

    intracranial = (t1 > 0) | (gm + wm > 0.1)
    intracranial = ndimage.binary_fill_holes(intracranial, structure=np.ones((3, 3, 1), bool))
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0)
    brain_class = np.array([T.CSF, T.GM, T.WM], np.uint8)[np.argmax(np.stack([csf, gm, wm]), axis=0)]

    labels = np.zeros(t1.shape, np.uint8)
    labels[intracranial] = brain_class[intracranial]
    distance = ndimage.distance_transform_edt(~intracranial, sampling=zooms)
    inner = 0.0
    for outer, label in HEAD_SHELL_MM:
        labels[(distance > inner) & (distance <= outer)] = label
        inner = outer
    return labels, affine


def brainweb_labels(subject: int, cache_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, affine)`` of BrainWeb-20 subject ``subject`` (crisp model), via brainweb-dl.

    The file is cached by brainweb-dl in ``cache_dir`` (default: ``$BRAINWEB_DIR`` or
    ``~/.cache/brainweb``) and downloaded only when absent.
    """
    import brainweb_dl
    import requests

    try:
        path = brainweb_dl.get_brainweb20(subject, brainweb_dir=cache_dir, segmentation="crisp")
    except requests.exceptions.RequestException as err:
        where = brainweb_dl._brainweb.get_brainweb_dir(cache_dir)
        raise QmriError(
            f"cannot download BrainWeb subject {subject:02d} ({type(err).__name__}); check the network, "
            f"or place brainweb_s{subject:02d}_crisp.nii.gz in {where}, or use brains: source: mni152"
        ) from None
    except (ValueError, OSError) as err:  # wrong subject id, truncated or garbled download
        raise QmriError(f"BrainWeb subject {subject:02d}: bad download or id ({err})") from None
    data, _ = load_nifti(path)
    # brainweb-dl keeps the server's (z, y, x) order; we use (x, y, z)
    return np.ascontiguousarray(data.transpose(2, 1, 0)).astype(np.uint8), BRAINWEB_AFFINE.copy()


def brain_slices(labels: np.ndarray) -> np.ndarray:
    """Return the indices of axial slices that contain brain tissue (CSF, GM or WM)."""
    brain = np.isin(labels, T.BRAIN_LABELS)
    return np.flatnonzero(brain.any(axis=(0, 1)))


def split_slab(labels: np.ndarray, affine: np.ndarray, test_slab_mm: tuple[float, float],
               gap_mm: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return ``(train, test)`` axial slice indices: tests inside the slab, training outside it plus a gap.

    ``test_slab_mm`` is a world z range (mm); slices within ``gap_mm`` of it are in neither
    set, so no training patch comes from a slice next to a test slice.
    """
    slices = brain_slices(labels)
    z_mm = affine[2, 2] * slices + affine[2, 3]
    lo, hi = sorted(test_slab_mm)
    test = slices[(z_mm >= lo) & (z_mm <= hi)]
    train = slices[(z_mm < lo - gap_mm) | (z_mm > hi + gap_mm)]
    if len(test) == 0:
        raise QmriError(f"test slab {test_slab_mm} mm holds no brain slice")
    return tuple(int(i) for i in train), tuple(int(i) for i in test)


def build_brain_model(name: str, source: str, **spec) -> BrainModel:
    """Return the brain model described by a config entry.

    ``source="mni152"`` takes ``test_slab_mm`` and ``gap_mm``; ``source="brainweb"`` takes
    ``subject``, ``role`` ("train" or "test": all its slices go to that set) and ``cache_dir``.
    """
    if source == "mni152":
        labels, affine = mni152_labels()
        train, test = split_slab(labels, affine, tuple(spec["test_slab_mm"]), spec["gap_mm"])
    elif source == "brainweb":
        labels, affine = brainweb_labels(spec["subject"], spec.get("cache_dir"))
        slices = tuple(int(i) for i in brain_slices(labels))
        train, test = (slices, ()) if spec["role"] == "train" else ((), slices)
    else:
        raise QmriError(f"unknown brain source {source!r}: choose mni152 or brainweb")
    return BrainModel(name, labels, affine, train, test)


def save_brain_model(model: BrainModel, labels_path: str | os.PathLike, meta_path: str | os.PathLike) -> None:
    """Write the label volume (NIfTI) and its slice split and class names (JSON sidecar)."""
    save_nifti(labels_path, model.labels, model.affine)
    write_json(meta_path, {
        "name": model.name,
        "labels": {str(k): v for k, v in T.LABEL_NAMES.items()},
        "axial_axis": 2,
        "train_slices": list(model.train_slices),
        "test_slices": list(model.test_slices),
    })


def load_brain_model(labels_path: str | os.PathLike, meta_path: str | os.PathLike) -> BrainModel:
    """Return a brain model written by ``save_brain_model``."""
    labels, affine = load_nifti(labels_path)
    meta = read_json(meta_path)
    return BrainModel(meta["name"], labels.astype(np.uint8), affine,
                      tuple(meta["train_slices"]), tuple(meta["test_slices"]))
