"""Windows streamed from HDF5: same values as in memory, chunked and compressed files,
DataLoader workers, and a GAN trained from the stream equal to one trained in memory."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from imusynth.data import ChannelNormalizer, read_windows, write_windows
from imusynth.data.stream import WindowStream, fit_normalizer
from imusynth.errors import StoreError
from imusynth.gan import SIDES
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.train.config import TrainConfig
from imusynth.train.loop import dataset_loader, epoch_loader, fit_gan


@pytest.fixture
def flagged(tiny_windows):
    """The tiny windows with every third one flagged synthetic."""
    tiny_windows.is_synthetic[::3] = True
    return tiny_windows


def _in_memory(ws):
    """What imusynth.gan.train_run hands the loop: real rows, normalised, side codes."""
    real = ws.subset(~ws.is_synthetic)
    norm = ChannelNormalizer().fit(real.X)
    side = np.searchsorted(np.array(SIDES), real.side)
    return norm, norm.transform(real.X), real.y, side


@pytest.mark.parametrize("compression", ["gzip", "lzf", None])
def test_streamed_items_equal_the_in_memory_ones(tmp_path, flagged, compression):
    path = write_windows(tmp_path / "w.h5", flagged, compression=compression, chunk_rows=5)
    norm, Z, y, side = _in_memory(flagged)
    ds = WindowStream(path, norm, sides=SIDES)
    assert len(ds) == len(Z) and ds.shape == Z.shape[1:]
    for i in (0, 5, len(ds) - 1, -1):
        x, yi, si = ds[i]
        assert x.dtype == torch.float32 and yi.dtype == torch.int64
        assert torch.equal(x, torch.from_numpy(Z[i])) and int(yi) == y[i] and int(si) == side[i]
    idx = [7, 2, 2, 15, 0]  # unordered, repeated: one read, put back in order
    xb, yb, sb = ds[idx]
    assert torch.equal(xb, torch.from_numpy(Z[idx]))
    assert yb.tolist() == y[idx].tolist() and sb.tolist() == side[idx].tolist()
    assert torch.equal(ds[np.arange(len(ds))][0], torch.from_numpy(Z))
    raw = WindowStream(path, real_only=False)  # no normaliser: physical units, all rows
    assert torch.equal(raw[np.arange(len(raw))][0], torch.from_numpy(flagged.X))
    with pytest.raises(IndexError):
        ds[len(ds)]


@pytest.mark.parametrize(
    ("compression", "chunk_rows", "chunks"),
    [("gzip", None, (24, 6, 32)), ("lzf", 4, (4, 6, 32)), (None, 0, None), (None, 7, (7, 6, 32))],
)
def test_chunked_and_compressed_round_trip_is_exact(
    tmp_path, tiny_windows, compression, chunk_rows, chunks
):
    ws = tiny_windows
    ws.joint_angles = np.random.default_rng(2).normal(size=(len(ws), 3, 32)).astype(np.float32)
    ws.joint_names = ("a", "b", "c")
    path = write_windows(tmp_path / "w.h5", ws, compression=compression, chunk_rows=chunk_rows)
    back = read_windows(path)
    for name in ("X", "y", "groups", "is_synthetic", "recording", "side", "joint_angles"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ws, name), err_msg=name)
    assert back.X.dtype == np.float32
    with h5py.File(path) as f:
        assert f["X"].compression == compression and f["X"].chunks == chunks


def test_bad_storage_options_are_store_errors_and_write_nothing(tmp_path, tiny_windows):
    for kwargs, field in [
        ({"compression": "zstd"}, "compression"),
        ({"chunk_rows": -1}, "chunk_rows"),
        ({"compression": "gzip", "chunk_rows": 0}, "chunk_rows"),
        ({"compression_level": 12}, "compression_level"),
    ]:
        with pytest.raises(StoreError) as info:
            write_windows(tmp_path / "w.h5", tiny_windows, **kwargs)
        assert info.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_bad_stream_files_are_store_errors(tmp_path, tiny_windows):
    with pytest.raises(StoreError, match="not found"):
        WindowStream(tmp_path / "nope.h5")
    path = write_windows(tmp_path / "w.h5", tiny_windows)
    with h5py.File(path, "a") as f:
        del f["side"]
    with pytest.raises(StoreError) as info:
        WindowStream(path, sides=SIDES)
    assert info.value.field == "side"


def test_dataloader_workers_each_open_the_file(tmp_path, flagged):
    path = write_windows(tmp_path / "w.h5", flagged, compression="lzf", chunk_rows=3)
    norm, Z, y, side = _in_memory(flagged)
    ds = WindowStream(path, norm, sides=SIDES)
    ds[0]  # a handle open in the parent must not travel to (or be used by) the workers
    assert pickle.loads(pickle.dumps(ds))._file is None
    # Auto-batching (__getitems__ + default collation), two worker processes.
    plain = DataLoader(ds, batch_size=4, num_workers=2)
    xs = torch.cat([b[0] for b in plain])
    assert torch.equal(xs, torch.from_numpy(Z))
    # The loop's loader factory: the same batches from the stream as from memory.
    streamed = dataset_loader(ds, batch_size=4, seed=3, num_workers=2)
    memory = epoch_loader(Z, y, side, batch_size=4, seed=3)
    for a, b in zip(streamed(1), memory(1), strict=True):
        for ta, tb in zip(a, b, strict=True):
            assert torch.equal(ta, tb)


def test_a_gan_trained_from_the_stream_equals_one_trained_in_memory(tmp_path, flagged):
    path = write_windows(tmp_path / "w.h5", flagged, compression="gzip", chunk_rows=4)
    norm, Z, y, side = _in_memory(flagged)
    cfg = TrainConfig(steps=3, batch_size=4, log_every=3, augment_shift=0.2)

    def models():
        torch.manual_seed(0)
        g = Conv1dGenerator(6, 32, 2, latent_dim=8, embed_dim=8, width=32, n_blocks=2, n_sides=2)
        return g, ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2, n_sides=2)

    ds = WindowStream(path, norm, sides=SIDES)
    a = fit_gan(*models(), dataset_loader(ds, batch_size=4, seed=0), cfg)
    b = fit_gan(*models(), epoch_loader(Z, y, side, batch_size=4, seed=0), cfg)
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_fit_normalizer_streams_close_to_the_exact_fit(tmp_path, flagged):
    path = write_windows(tmp_path / "w.h5", flagged)
    norm = fit_normalizer(path, chunk_rows=5)
    exact = ChannelNormalizer().fit(flagged.X[~flagged.is_synthetic])
    np.testing.assert_allclose(norm.mean_, exact.mean_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norm.scale_, exact.scale_, rtol=1e-10)
