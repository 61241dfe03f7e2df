"""What differs between the window GAN and the image GAN, as one object: a :class:`Modality`.

The run API (:mod:`imusynth.gan.api`) decides the modality once, from the data when it
trains and from ``run.json`` when it loads, and from then on asks that object for the parts
that differ: the checks and preparation of the training data, the networks and loaders,
loading the generators back, generating, and fitting a synthetic set beside a real one. A
run carries its modality (``run.modality``), so nothing downstream tests array shapes or
generator names again. The two modalities are :data:`imusynth.gan.windows.WINDOWS` and
:data:`imusynth.gan.images.IMAGES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from imusynth.data import WindowSet
from imusynth.gan.runs import check_known_classes, check_resume_meta
from imusynth.train.config import GANConfig
from imusynth.train.loop import Callback

__all__ = ["Generated", "Modality", "TrainingJob"]

# fit(out_dir, resume, progress, callbacks, plots) -> the training loop's metrics rows
FitFn = Callable[[Path | None, bool, bool, Sequence[Callback], bool], list[dict[str, Any]]]


@dataclass
class TrainingJob:
    """A prepared training: the run being built and how to train it.

    Attributes
    ----------
    run : GANRun or ImageGANRun
        Its generators are filled in by ``fit``.
    device : torch.device
    check_data : callable
        Checks left for after the device check (so a bad device is reported first, as
        before any data-dependent refusal); called before the run folder is touched.
    fit : callable
        ``fit(out_dir, resume, progress, callbacks, plots) -> history``; called while the
        run folder (if any) is locked, after ``config.toml`` and ``run.json`` are written.
    after : callable or None
        ``after(out_dir)``: figures drawn once the run folder is released.
    """

    run: Any
    device: torch.device
    check_data: Callable[[], None]
    fit: FitFn
    after: Callable[[Path], None] | None = None


class Generated(NamedTuple):
    """What a generator made for some class codes."""

    X: np.ndarray  # (N, C, T) windows in physical units, or (N, 1, H, W) images in [-1, 1]
    side: np.ndarray | None = None  # side codes into SIDES (side-conditional window runs)
    joints: np.ndarray | None = None  # (N, J, T) joint angles of the kinematic generator


class Modality:
    """The parts of the run API that differ between windows and images.

    Subclasses set the class attributes and implement the methods that raise
    :class:`NotImplementedError`. One instance of each exists.
    """

    name: ClassVar[str]
    resume_keys: ClassVar[tuple[str, ...]]  # run.json keys a resumed run must agree on
    resume_differ: ClassVar[str]  # the message when they do not
    resume_missing_at_folder: ClassVar[bool] = False  # report a missing run.json at the folder
    # what a run.json written before one of resume_keys was stored stands for
    resume_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    balance_checks: ClassVar[tuple[str, ...]]  # WindowSet.check_compatible checks for balance

    def __repr__(self) -> str:
        return f"<{self.name} modality>"

    # -- training --------------------------------------------------------------------------
    def check_config(self, config: GANConfig) -> None:
        """Refuse a config this modality cannot train (after :func:`validate_config`)."""

    def check_arrays(self, X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Training arrays ``(X, y)`` checked and in the canonical dtypes."""
        raise NotImplementedError

    def prepare(
        self, config: GANConfig, data: WindowSet, device: str | torch.device
    ) -> TrainingJob:
        """Check ``data`` (real rows) and build the run and its training."""
        raise NotImplementedError

    def check_resume(self, run_dir: Path, run: Any) -> None:
        """Refuse to resume ``run_dir`` with data or a model other than its own."""
        check_resume_meta(
            run_dir,
            run.meta(),
            self.resume_keys,
            differ=self.resume_differ,
            missing_at=run_dir if self.resume_missing_at_folder else None,
            defaults=self.resume_defaults,
        )

    # -- run folders -----------------------------------------------------------------------
    def load(self, run_dir: Path, meta: dict[str, Any] | None, device: str | torch.device) -> Any:
        """Rebuild a trained run from ``run_dir`` (``meta``: its ``run.json``, if any)."""
        raise NotImplementedError

    def save_checkpoints(self, run: Any, run_dir: Path) -> None:
        """Write ``run``'s checkpoints into ``run_dir`` (beside config.toml and run.json)."""
        raise NotImplementedError

    # -- sampling --------------------------------------------------------------------------
    def generate(self, run: Any, codes: np.ndarray, seed: int) -> Generated:
        """Generate one sample per class code; the same seed gives the same samples."""
        raise NotImplementedError

    def synthetic_set(self, run: Any, codes: np.ndarray, made: Generated) -> WindowSet:
        """``made`` as a set flagged ``is_synthetic`` (codes into ``run.classes``)."""
        raise NotImplementedError

    def check_balance_data(self, data: WindowSet, run: Any) -> None:
        """Refuse to top up ``data`` with samples of ``run`` unless they can stand beside it."""
        empty = np.zeros(0, dtype=np.int64)
        like = self.synthetic_set(run, empty, self.generate(run, empty, 0))
        like.check_compatible(data, check=self.balance_checks, name="data", like="the run's")
        check_known_classes(data.classes, run.classes)

    def fit_to(self, fake: WindowSet, data: WindowSet, codes: np.ndarray) -> WindowSet:
        """``fake`` re-coded by ``codes`` (run code -> code of ``data``) to go after ``data``."""
        raise NotImplementedError
