"""Hooks of :func:`imusynth.train.loop.fit_gan`: the :class:`Callback` base class, and the
callback that draws real vs synthetic windows during training with a figure function it is
given (the figures themselves live in :mod:`imusynth.plots`, above the trainer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from imusynth.data.normalize import ChannelNormalizer

if TYPE_CHECKING:
    from imusynth.train.state import GANTrainingState

__all__ = ["Callback", "SamplePlotCallback"]


class Callback:
    """Hooks called by :func:`~imusynth.train.loop.fit_gan`; override the ones you need.

    Callbacks must not draw from ``state.rng`` (that would change the run); use their own
    seeded generator.
    """

    def on_step(self, state: GANTrainingState) -> None:
        """After every generator update (``state.step`` already incremented)."""

    def log_columns(self, state: GANTrainingState) -> dict[str, float]:
        """Extra columns for the metrics row about to be written (every ``log_every`` steps
        and at the end); the same keys every time."""
        return {}

    def on_log(self, state: GANTrainingState, metrics: dict[str, float]) -> None:
        """After each metrics row (every ``log_every`` steps and at the end)."""

    def on_end(self, state: GANTrainingState) -> None:
        """Once, after the last step and the final checkpoint."""


class SamplePlotCallback(Callback):
    """Draw real vs EMA-generator windows every ``every`` steps and at the end.

    Uses its own seeded generator (fixed noise across figures, so they show the same latent
    points evolving) and never touches the loop's random state.

    Parameters
    ----------
    real_X : ndarray (N, C, T)
        Real windows in physical units (only ``n_per_class`` per class are drawn).
    real_y : ndarray (N,)
    classes, channels, units : sequences of str
    normalizer : ChannelNormalizer
        Maps generator outputs back to physical units.
    out_dir : str or Path
        Figures go to ``out_dir/samples/step_NNNNNN.png``; the final one also to
        ``out_dir/real_vs_synthetic.png``.
    draw : callable
        The figure: ``draw(real_X, real_y, fake_X, fake_y, classes, channels, units, *,
        n_per_class, sampling_rate_hz, path, title)``, which saves it to ``path``, e.g.
        :func:`imusynth.plots.gan.plot_real_vs_synthetic`.
    every : int
        Steps between figures; 0 draws only the final one.
    """

    def __init__(
        self,
        real_X: np.ndarray,
        real_y: np.ndarray,
        classes: Sequence[str],
        channels: Sequence[str],
        units: Sequence[str],
        normalizer: ChannelNormalizer,
        out_dir: str | Path,
        *,
        draw: Callable[..., Any],
        every: int = 0,
        n_per_class: int = 2,
        sampling_rate_hz: float = 50.0,
        seed: int = 0,
    ) -> None:
        picks = np.concatenate(
            [np.flatnonzero(real_y == k)[:n_per_class] for k in range(len(classes))]
        )
        self.real_X, self.real_y = real_X[picks], np.asarray(real_y)[picks]
        self.classes, self.channels, self.units = list(classes), list(channels), list(units)
        self.normalizer, self.out_dir, self.every = normalizer, Path(out_dir), every
        self.n_per_class, self.fs, self.seed = n_per_class, sampling_rate_hz, seed
        self.draw_fn = draw

    def on_step(self, state: GANTrainingState) -> None:
        if self.every and state.step % self.every == 0 and state.step < state.config.steps:
            folder = self.out_dir / "samples"
            folder.mkdir(parents=True, exist_ok=True)
            self.draw(state, folder / f"step_{state.step:06d}.png")

    def on_end(self, state: GANTrainingState) -> None:
        self.draw(state, self.out_dir / "real_vs_synthetic.png")

    def draw(self, state: GANTrainingState, path: Path) -> Any:
        """Sample the EMA generator with the fixed noise and draw the figure to ``path``."""
        return self.draw_generator(state.ema, state.device, state.step, path)

    def draw_generator(self, G: torch.nn.Module, device: Any, step: int, path: Path) -> Any:
        """The figure of :meth:`draw` for any generator ``G`` on ``device`` (e.g. the
        snapshot a run chose after training), titled with ``step``."""
        k = len(self.classes)
        y = torch.arange(k, device=device).repeat_interleave(self.n_per_class)  # (B,)
        gen = torch.Generator(device=device).manual_seed(self.seed)
        z = torch.randn(len(y), G.latent_dim, generator=gen, device=device)
        args: list[torch.Tensor | None] = [y if G.num_classes else None]
        if getattr(G, "n_sides", 0):
            args.append(torch.arange(len(y), device=device) % G.n_sides)
        was_training = G.training
        G.eval()
        with torch.no_grad():
            fake = G(z, *args).float().cpu().numpy()
        G.train(was_training)
        fake = self.normalizer.inverse_transform(fake)
        return self.draw_fn(
            self.real_X,
            self.real_y,
            fake,
            y.cpu().numpy(),
            self.classes,
            self.channels,
            self.units,
            n_per_class=self.n_per_class,
            sampling_rate_hz=self.fs,
            path=path,
            title=f"step {step}",
        )
