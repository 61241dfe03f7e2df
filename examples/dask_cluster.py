"""Run an experiment grid on a Dask cluster (or on a LocalCluster started here).

Every unit of the grid (fold x seed x training size, with its GANs and classifier fits)
becomes one Dask task through joblib's ``dask`` backend; results.csv is the serial run's.

    pip install "imusynth[cluster]"
    # a LocalCluster of 2 one-thread worker processes on this machine:
    python examples/dask_cluster.py experiments/watch_rebalancing.toml --quick --out runs/reb
    # an existing cluster (dask scheduler; dask worker --nthreads 1 --nworkers N on each host):
    python examples/dask_cluster.py experiments/watch_rebalancing.toml \\
        --scheduler tcp://10.0.0.1:8786 --out /shared/runs/reb

Workers need imusynth installed and the data the config names; they cache GANs in
``--out``, which should be on a file system all of them share (results.csv is written
here). Start workers with one thread each: torch's RNG belongs to the process, so units in
threads of one worker process take turns.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import time
from pathlib import Path

from distributed import Client, LocalCluster

from imusynth.experiments import load_experiment, run_experiment, summarise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="experiment config (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--quick", action="store_true", help="the config's [quick] grid")
    parser.add_argument("--scheduler", help="scheduler address; default: start a LocalCluster")
    parser.add_argument(
        "--workers", type=int, default=2, help="LocalCluster worker processes (default 2)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with contextlib.ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(Client(args.scheduler))
        else:
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1)
            client = stack.enter_context(Client(stack.enter_context(cluster)))
        # Units that one machine runs at once: they share its cores for torch's threads.
        per_host = collections.Counter()
        for address, n in client.nthreads().items():
            per_host[address.rsplit(":", 1)[0]] += n
        jobs = max(per_host.values(), default=1)
        cfg = load_experiment(args.config, quick=args.quick)
        print(f"{cfg.name}: {sum(client.nthreads().values())} worker threads, {client}")
        start = time.perf_counter()
        results = run_experiment(cfg, args.out, jobs=jobs, backend="dask")
        wall = time.perf_counter() - start
        summary = summarise(results, args.out)
        print(f"wrote {results} and {summary}; the grid took {wall:.0f} s")


if __name__ == "__main__":
    main()
