"""Tissue classes and the parameter distributions of Table 1 (Sabidussi et al. 2021).

Label codes are those of the BrainWeb crisp models (0 background ... 11 bone marrow),
used for every brain model in this project, BrainWeb or MNI152.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: BrainWeb crisp class index -> name
LABEL_NAMES: dict[int, str] = {
    0: "background", 1: "CSF", 2: "GM", 3: "WM", 4: "fat", 5: "muscle", 6: "muscle/skin",
    7: "skull", 8: "vessels", 9: "around fat", 10: "dura mater", 11: "bone marrow",
}
BACKGROUND, CSF, GM, WM, FAT, MUSCLE, MUSCLE_SKIN, SKULL, VESSELS, AROUND_FAT, DURA, MARROW = range(12)
#: classes whose voxels make the brain mask that patch centres are drawn from (section 4.2)
BRAIN_LABELS: tuple[int, ...] = (CSF, GM, WM)


@dataclass(frozen=True)
class TissueParameters:
    """Means and SDs of one Table 1 row: T1 and T2 in ms, A relative to CSF proton density."""

    name: str
    t1_mean: float
    t1_sd: float
    t2_mean: float
    t2_sd: float
    a_mean: float
    a_sd: float


#: Table 1. The published table gives sigma_A only for CSF (0.3) and leaves the other cells
#: blank. We read the blanks as the same relative spread as CSF: sigma_A = 0.3 * mu_A
#: (a 30 % coefficient of variation), which keeps A positive and tissue-ordered on average.
TABLE1: dict[str, TissueParameters] = {
    row.name: row
    for row in (
        TissueParameters("CSF", 3500, 300, 2000, 300, 1.0, 0.3),
        TissueParameters("GM", 1400, 300, 110, 30, 0.85, 0.3 * 0.85),
        TissueParameters("WM", 780, 250, 80, 20, 0.65, 0.3 * 0.65),
        TissueParameters("Fat", 420, 100, 70, 20, 0.9, 0.3 * 0.9),
        TissueParameters("Muscle", 1200, 300, 50, 20, 0.7, 0.3 * 0.7),
        TissueParameters("Muscle skin", 1230, 300, 50, 20, 0.7, 0.3 * 0.7),
        TissueParameters("Skull", 400, 100, 30, 10, 0.9, 0.3 * 0.9),
        TissueParameters("Vessels", 1980, 300, 275, 70, 1.0, 0.3 * 1.0),
        TissueParameters("Marrow", 580, 100, 50, 20, 0.8, 0.3 * 0.8),
    )
}

#: label code -> Table 1 row. Two BrainWeb classes have no row of their own: "around fat"
#: (fatty connective tissue) takes the Fat row and "dura mater" (dense connective tissue)
#: the Muscle-skin row. Background has no tissue (all parameters zero).
LABEL_TO_TISSUE: dict[int, str] = {
    CSF: "CSF", GM: "GM", WM: "WM", FAT: "Fat", MUSCLE: "Muscle", MUSCLE_SKIN: "Muscle skin",
    SKULL: "Skull", VESSELS: "Vessels", AROUND_FAT: "Fat", DURA: "Muscle skin", MARROW: "Marrow",
}


def table_arrays() -> dict[str, np.ndarray]:
    """Return Table 1 as arrays indexed by label code (length 12, zeros for background).

    Keys: ``{param}_mean`` and ``{param}_sd`` for param in A, T1, T2.
    """
    out = {f"{p}_{s}": np.zeros(len(LABEL_NAMES)) for p in ("A", "T1", "T2") for s in ("mean", "sd")}
    for label, tissue in LABEL_TO_TISSUE.items():
        row = TABLE1[tissue]
        out["A_mean"][label], out["A_sd"][label] = row.a_mean, row.a_sd
        out["T1_mean"][label], out["T1_sd"][label] = row.t1_mean, row.t1_sd
        out["T2_mean"][label], out["T2_sd"][label] = row.t2_mean, row.t2_sd
    return out
