"""What does the held-out CNN judge use? Test it on windows played backwards, and per channel.

The CNN judge of ``heldout_discriminative_score(classifier="cnn")`` (the Frid-Adar CNN) is
trained to tell a run's synthetic windows from real ones of four of the training subjects
and tested on the other four, both sides balanced class by class; then the same judge, not
retrained, is tested on those test windows changed in one way:

* played backwards (real and synthetic alike): a judge that falls to chance (0.5) relies on
  the direction of time, which autocorrelations and spectra cannot show;
* one channel's values swapped between test windows (its marginal kept, its link to the
  window and the other channels broken): how much the judge leans on that channel.

Real windows: subjects 1-8 of the watch data (as in gan_fidelity_watch.py); synthetic: as many
per class, sampled from RUN::

    python benchmarks/judge_reversal.py RUN [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from gan_fidelity_watch import TRAIN_SUBJECTS

from imusynth.data import load_windows
from imusynth.gan import load_run, sample_windows
from imusynth.metrics.judges import balance_indices, judge_estimator

HALVES = (["1", "3", "5", "7"], ["2", "4", "6", "8"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder of a GAN trained on subjects 1-8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ws = load_windows("watch.toml")
    real = ws.subset(np.isin(ws.groups, sorted(TRAIN_SUBJECTS)))
    counts = np.bincount(real.y, minlength=len(real.classes))
    per_class = {c: int(n) for c, n in zip(real.classes, counts, strict=True)}
    synth = sample_windows(load_run(args.run, device="cpu"), per_class, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    fake_half = rng.random(len(synth)) < 0.5
    rows: dict[str, list[float]] = {}
    for split, (train_subjects, _) in enumerate((HALVES, HALVES[::-1])):
        r_tr = np.isin(real.groups, train_subjects)
        f_tr = fake_half if split == 0 else ~fake_half
        sets = []
        for r_mask, f_mask in ((r_tr, f_tr), (~r_tr, ~f_tr)):
            ir, jf = balance_indices(
                np.flatnonzero(r_mask), np.flatnonzero(f_mask), real.y, synth.y, rng
            )
            X = np.concatenate([real.X[ir], synth.X[jf]])
            sets.append((X, np.repeat([0, 1], [len(ir), len(jf)])))
        (X_tr, t_tr), (X_te, t_te) = sets
        judge = judge_estimator("cnn")(args.seed + split).fit(X_tr, t_tr)

        views = {"as they are": X_te, "played backwards": X_te[..., ::-1].copy()}
        for c, name in enumerate(real.channels):
            X = X_te.copy()
            X[:, c] = X_te[rng.permutation(len(X_te)), c]
            views[f"{name} swapped between windows"] = X
        for label, X in views.items():
            rows.setdefault(label, []).append(float((judge.predict(X) == t_te).mean()))
    print(
        f"held-out CNN judge of {args.run}: accuracy on test windows "
        "(2 subject splits; 0.5 = chance)"
    )
    for label, values in rows.items():
        print(f"  {label:28s} " + "  ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
