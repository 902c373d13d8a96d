"""Nominal relaxation times of the ISMRM/NIST system phantom's sphere arrays (the reference of section 5.2)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: where the nominal values come from (the phantom maker's table, as shipped with MR-BIAS test data)
REFERENCE_SOURCE = ("CaliberMRI ISMRM/NIST system phantom, batch 2 (serial 130-0093), 3 T, 20 degC: "
                    "T1-Batch2_3T_dl-20210726.csv and T2-Batch2_3T_dl-20210726.csv, the 20 degC rows")
#: sphere -> (T1 ms, T2 ms) at 20 degC; T1-k are the spheres of the T1 array, T2-k of the T2 array
REFERENCE: dict[str, tuple[float, float]] = {
    "T1-1": (1883.97, 1489.41), "T1-2": (1330.16, 1026.78), "T1-3": (987.27, 736.97),
    "T1-4": (690.08, 521.27), "T1-5": (484.97, 354.38), "T1-6": (341.58, 248.03),
    "T1-7": (240.86, 174.99), "T1-8": (174.95, 126.33), "T1-9": (121.08, 86.91),
    "T1-10": (85.75, 60.86), "T1-11": (60.21, 42.44), "T1-12": (42.89, 30.66),
    "T1-13": (30.4, 21.76), "T1-14": (21.44, 15.3),
    "T2-1": (3025.17, 1928.33), "T2-2": (2185.54, 379.48), "T2-3": (1901.28, 267.29),
    "T2-4": (1549.98, 175.05), "T2-5": (1510.76, 166.9), "T2-6": (1026.43, 88.89),
    "T2-7": (805.1, 63.42), "T2-8": (599.96, 44.24), "T2-9": (431.22, 29.88),
    "T2-10": (292.87, 19.4), "T2-11": (226.53, 14.74), "T2-12": (158.17, 10.52),
    "T2-13": (116.7, 7.27), "T2-14": (82.46, 5.1),
}
SPHERES = 14
#: the relaxation time each task measures
TASK_PARAMETER = {"t1": "T1", "t2": "T2"}


def measured_parameter(table: pd.DataFrame) -> str:
    """Return "T1" or "T2": the relaxation time a ``sphere_table`` holds (its spheres' array)."""
    return table["sphere"].iloc[0].split("-")[0]


def nominal(task: str) -> tuple[list[str], np.ndarray]:
    """Return the sphere names of the task's array (T1-1 ... T1-14) and their nominal times (ms)."""
    parameter = TASK_PARAMETER[task]
    names = [f"{parameter}-{k}" for k in range(1, SPHERES + 1)]
    return names, np.array([REFERENCE[n][0 if parameter == "T1" else 1] for n in names])


