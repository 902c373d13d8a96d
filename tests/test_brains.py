import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brainweb_dl._brainweb as bw
import numpy as np
import pytest
from scipy import ndimage

from qmri.errors import QmriError
from qmri.simulation import tissues as T
from qmri.simulation.brains import (
    HEAD_SHELL_MM,
    BrainModel,
    brainweb_labels,
    build_brain_model,
    load_brain_model,
    mni152_labels,
    save_brain_model,
    split_slab,
)


@pytest.fixture(scope="module")
def mni():
    return mni152_labels()


def test_mni152_has_brain_and_head_classes(mni):
    labels, affine = mni
    counts = np.bincount(labels.ravel(), minlength=12)
    for label in (T.CSF, T.GM, T.WM, T.FAT, T.MUSCLE, T.MUSCLE_SKIN, T.SKULL, T.DURA, T.MARROW):
        assert counts[label] > 10_000, T.LABEL_NAMES[label]
    assert counts[T.VESSELS] == 0  # no template carries vessels
    # adult brain: GM volume exceeds WM volume, about 1.1-1.6 L of parenchyma at 1 mm^3 voxels
    assert counts[T.GM] > counts[T.WM]
    assert 1.1e6 < counts[T.GM] + counts[T.WM] < 1.9e6


def test_mni152_head_shell_is_layered_outward(mni):
    labels, _ = mni
    intracranial = np.isin(labels, T.BRAIN_LABELS)
    distance = ndimage.distance_transform_edt(~intracranial)
    assert distance[labels > 0].max() <= HEAD_SHELL_MM[-1][0] + 1e-6
    # skin lies outside the skull everywhere on average
    assert distance[labels == T.MUSCLE_SKIN].mean() > distance[labels == T.MARROW].mean() > 0


def test_slab_split_holds_out_test_slices_with_a_gap(mni):
    labels, affine = mni
    train, test = split_slab(labels, affine, (16, 28), gap_mm=6)
    z = lambda idx: affine[2, 2] * np.asarray(idx) + affine[2, 3]  # noqa: E731
    assert np.all((z(test) >= 16) & (z(test) <= 28))
    assert np.all((z(train) < 10) | (z(train) > 34))
    assert len(train) > 100 and len(test) == 13
    with pytest.raises(QmriError, match="holds no brain slice"):
        split_slab(labels, affine, (300, 310), gap_mm=0)


def test_brain_model_round_trip(tmp_path):
    labels = np.random.default_rng(0).integers(0, 12, (9, 7, 5)).astype(np.uint8)
    model = BrainModel("toy", labels, np.diag([0.5, 0.5, 2.0, 1.0]), (0, 1), (3,))
    save_brain_model(model, tmp_path / "toy.nii.gz", tmp_path / "toy.json")
    back = load_brain_model(tmp_path / "toy.nii.gz", tmp_path / "toy.json")
    assert np.array_equal(back.labels, labels) and np.allclose(back.affine, model.affine)
    assert (back.name, back.train_slices, back.test_slices) == ("toy", (0, 1), (3,))


class FakeBrainWeb:
    """A BrainWeb server on 127.0.0.1 that answers every download with the given bytes."""

    def __init__(self, payload: bytes):
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi/brainweb1/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_brainweb_download_of_real_subject04_from_a_local_server(shared, tmp_path, monkeypatch):
    payload = (shared / "data/brainweb/subject04_crisp.rawb.gz").read_bytes()
    with FakeBrainWeb(payload) as server:
        monkeypatch.setattr(bw, "BASE_URL", server.url)
        labels, affine = brainweb_labels(4, tmp_path)
        assert len(server.requests) == 1 and "subject04_crisp" in server.requests[0]
        again, _ = brainweb_labels(4, tmp_path)  # from the cache: no second request
        assert len(server.requests) == 1
    assert np.array_equal(labels, again)
    raw = gzip.decompress(payload)
    assert hashlib.sha256(raw).hexdigest() == "717b5577026139a4ff584e0f19068899674ae6861d7100e3031d3866062c4bc2"
    expected = (np.frombuffer(raw, "<u2").reshape(362, 434, 362) >> 4).transpose(2, 1, 0)
    assert labels.shape == (362, 434, 362) and np.array_equal(labels, expected)
    assert np.allclose(np.diag(affine)[:3], 0.5)
    # (x, y, z) order: the head is longer front to back (y) than left to right (x)
    head = np.argwhere(labels > 0)
    extent = head.max(axis=0) - head.min(axis=0)
    assert extent[1] > extent[0]
    model = build_brain_model("brainweb04", "brainweb", subject=4, role="test", cache_dir=tmp_path)
    assert model.train_slices == () and len(model.test_slices) > 200


def test_brainweb_unreachable_is_a_one_line_error(tmp_path, monkeypatch):
    with FakeBrainWeb(b"") as server:
        url = server.url
    monkeypatch.setattr(bw, "BASE_URL", url)  # the server is gone: connection refused
    with pytest.raises(QmriError, match="cannot download BrainWeb subject 05") as err:
        brainweb_labels(5, tmp_path)
    assert "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())


def test_brainweb_garbled_download_is_a_one_line_error(tmp_path, monkeypatch):
    with FakeBrainWeb(gzip.compress(b"not a brain")) as server:
        monkeypatch.setattr(bw, "BASE_URL", server.url)
        with pytest.raises(QmriError, match="bad download"):
            brainweb_labels(6, tmp_path)
    assert not any(tmp_path.iterdir())
