"""Is the kinematic generator still kinematic? The residual branch's share of the output.

The kinematic generator adds a small residual branch to what its arm model makes. When the
data differ from what the arm can make (gravity removed but modelled, another placement,
wrong units), the branch learns to cancel the arm and the kinematic constraint is silently
bypassed. :class:`ResidualShareCallback` measures the branch's share of the output power
(:meth:`~imusynth.models.kinematic.KinematicGenerator.residual_share`, per sensor) at every
metrics row, writes it as the ``residual_share_accel`` and ``residual_share_gyro`` columns
of ``metrics.csv``, and logs a warning above
:data:`~imusynth.models.kinematic.RESIDUAL_SHARE_BOUND` at the end of training, and at the
first metrics row above it in the second half. In the first half the arm is still being
fitted and the share passes the bound for a while even on data the arm explains (the watch
default: 0.78 at step 100 of 1200, under 0.1 from step 175 on; on gravity-free data with
gravity modelled it rises past 2 by step 150 and stays there).
:func:`residual_share_of_run` reads the last measurement back (what ``evaluate`` reports).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from imusynth.gan.selection import chosen_step
from imusynth.models.kinematic import RESIDUAL_SHARE_BOUND
from imusynth.train.callbacks import Callback
from imusynth.train.metrics_log import METRICS_NAME

if TYPE_CHECKING:
    from imusynth.train.state import GANTrainingState

__all__ = ["RESIDUAL_COLUMNS", "ResidualShareCallback", "bypass_message", "residual_share_of_run"]

log = logging.getLogger(__name__)

RESIDUAL_COLUMNS = {"accel": "residual_share_accel", "gyro": "residual_share_gyro"}


def bypass_message(share: dict[str, float], when: str) -> str | None:
    """The warning for a residual share above the bound, or ``None`` when it is within it."""
    over = {k: v for k, v in share.items() if v > RESIDUAL_SHARE_BOUND}
    if not over:
        return None
    what = ", ".join(f"{v:.0%} of the {k} output's power" for k, v in over.items())
    return (
        f"{when}: the kinematic generator's residual branch makes {what} (bound "
        f"{RESIDUAL_SHARE_BOUND:.0%}): it cancels the arm model, so the kinematic constraint "
        "is being bypassed. Check that the data are what the arm makes: gravity included or "
        "not as the data's gravity flag says ([signal] gravity, WindowSet.gravity), "
        "accelerometer in g and gyroscope in rad/s, the right sampling rate, a wrist or "
        "upper-arm placement; else raise train.residual_weight, set model.residual=false, "
        "or use model.generator=conv1d"
    )


class ResidualShareCallback(Callback):
    """Log the residual share of the EMA generator with every metrics row.

    Draws its own seeded noise (the training's random state is untouched) and runs the EMA
    generator, the one that is sampled, in eval mode: one forward of ``n`` windows per row.

    Parameters
    ----------
    n : int
        Windows per measurement, every class and side in turn.
    seed : int
        Seeds the noise (the same windows at every row).
    """

    def __init__(self, n: int = 128, seed: int = 0) -> None:
        self.n, self.seed = n, seed
        self.last: dict[str, float] | None = None
        self.warned = False

    def log_columns(self, state: GANTrainingState) -> dict[str, float]:
        G = state.ema
        if not hasattr(G, "residual_share"):
            return {}
        was_training = G.training
        G.eval()
        self.last = G.residual_share(self.n, self.seed)
        G.train(was_training)
        message = bypass_message(self.last, f"step {state.step}")
        # Warn once in the second half of training, and (in on_end) once more at the end.
        steps = state.config.steps
        if message and not self.warned and steps / 2 <= state.step < steps:
            log.warning(message)
            self.warned = True
        return {RESIDUAL_COLUMNS[k]: v for k, v in self.last.items()}

    def on_end(self, state: GANTrainingState) -> None:
        message = None if self.last is None else bypass_message(self.last, "end of training")
        if message:
            log.warning(message)


def residual_share_of_run(run_dir: str | Path) -> dict[str, float] | None:
    """The residual share of the generator a run samples, ``{"accel": ..., "gyro": ...}``,
    from its ``metrics.csv``: the row of the step checkpoint selection chose (``best.pt``)
    when the run has one and that row was logged, else the last row; ``None`` when the
    folder has no such columns (not a kinematic run, or an older one)."""
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        return None
    chosen = chosen_step(Path(run_dir))
    last = at_chosen = None
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            try:
                last = {k: float(row[c]) for k, c in RESIDUAL_COLUMNS.items()}
                step = int(float(row.get("step", -1)))
            except (KeyError, TypeError, ValueError):
                continue
            if step == chosen:
                at_chosen = last
    return at_chosen or last
