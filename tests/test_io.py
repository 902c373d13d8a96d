import os

import numpy as np
import pytest

from qmri.data.io import atomic_path, load_arrays, load_nifti, read_json, save_arrays, save_nifti, write_json
from qmri.errors import QmriError


def test_nifti_round_trip(tmp_path, rng):
    data = rng.normal(size=(5, 4, 3, 2)).astype(np.float32)
    affine = np.diag([0.8, 0.8, 3.0, 1.0])
    save_nifti(tmp_path / "x.nii.gz", data, affine)
    back, back_affine = load_nifti(tmp_path / "x.nii.gz")
    assert np.array_equal(back, data) and np.allclose(back_affine, affine)


def test_arrays_and_json_round_trip(tmp_path, rng):
    arrays = {"kappa": rng.normal(size=(3, 4, 5, 5)).astype(np.float32), "labels": np.arange(6, dtype=np.uint8)}
    save_arrays(tmp_path / "a.npz", **arrays)
    back = load_arrays(tmp_path / "a.npz")
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())
    write_json(tmp_path / "m.json", {"tau_ms": [1.5, 2.0]})
    assert read_json(tmp_path / "m.json") == {"tau_ms": [1.5, 2.0]}


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.nii.gz") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_get_the_permissions_of_a_new_file(tmp_path):
    """The temporary file is owner-only; the written file is readable as any new file under the umask."""
    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        (tmp_path / "plain").write_text("x")
        assert (tmp_path / "m.json").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / "bad.nii.gz").write_bytes(b"\x1f\x8b garbage")
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    for call, pattern in [(lambda: load_nifti(tmp_path / "bad.nii.gz"), "cannot read NIfTI"),
                          (lambda: load_nifti(tmp_path / "none.nii.gz"), "missing file"),
                          (lambda: read_json(tmp_path / "bad.json"), "corrupt JSON"),
                          (lambda: load_arrays(tmp_path / "bad.npz"), "cannot read archive")]:
        with pytest.raises(QmriError, match=pattern) as err:
            call()
        assert "\n" not in str(err.value)
