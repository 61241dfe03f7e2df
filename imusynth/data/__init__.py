"""Data layer: specs, loaders, windows, splits, normalisation and the HDF5 store."""

from imusynth.data.loaders import (
    load_images,
    load_recordings,
    load_windows,
    watch_dataset_path,
    window_recordings,
)
from imusynth.data.normalize import ChannelNormalizer
from imusynth.data.spec import DatasetSpec, ImageSpec, load_spec, parse_spec
from imusynth.data.splits import check_disjoint, leave_k_subjects_out, subject_kfold
from imusynth.data.store import atomic_path, read_windows, write_windows
from imusynth.data.windows import (
    ImageSet,
    Recordings,
    WindowSet,
    concatenate,
    count_short,
    make_windows,
    resample,
)

__all__ = [
    "ChannelNormalizer",
    "DatasetSpec",
    "ImageSet",
    "ImageSpec",
    "Recordings",
    "WindowSet",
    "atomic_path",
    "check_disjoint",
    "concatenate",
    "count_short",
    "leave_k_subjects_out",
    "load_images",
    "load_recordings",
    "load_spec",
    "load_windows",
    "make_windows",
    "parse_spec",
    "read_windows",
    "resample",
    "subject_kfold",
    "watch_dataset_path",
    "window_recordings",
    "write_windows",
]
