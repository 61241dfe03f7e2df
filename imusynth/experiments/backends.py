"""Where the units of an experiment run: joblib's backends, local or on a cluster.

``loky`` (local processes) and the other local joblib backends run units one after another
in the caller when ``jobs`` is 1; ``dask`` (``pip install imusynth[cluster]``) and ``ray``
run them on a cluster. torch's RNG and thread count belong to the process, so units in
threads of one process take turns (:func:`one_unit_at_a_time`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Iterator

from imusynth.errors import ConfigError

__all__ = ["LOCAL_BACKENDS", "check_backend", "one_unit_at_a_time"]

log = logging.getLogger(__name__)

# joblib's backends that run the units one after another in the caller when jobs == 1.
LOCAL_BACKENDS = ("loky", "multiprocessing", "threading", "sequential")
_INSTALL = {
    "dask": "`pip install imusynth[cluster]` (dask[distributed])",
    "ray": "`pip install ray[default]`",
}


def check_backend(name: str) -> None:
    """Fail with a :class:`ConfigError` unless joblib can run on backend ``name``.

    Dask: joblib registers its backend itself, and uses the current ``distributed`` Client;
    without one, a client is connected to ``DASK_SCHEDULER_ADDRESS`` (dask's
    ``scheduler-address`` setting) when that is set. Ray: its backend is registered here.
    """
    from joblib import parallel_config

    field = "backend"
    if name in _INSTALL:
        try:
            lib = importlib.import_module("distributed" if name == "dask" else "ray.util.joblib")
        except ImportError:
            raise ConfigError(f"backend {name!r} needs {_INSTALL[name]}", field=field) from None
        if name == "ray":
            lib.register_ray()
        else:
            _dask_client(lib)
    try:
        with parallel_config(backend=name):  # the documented way: registered names only
            pass
    except (ImportError, ValueError) as exc:
        if name == "dask":
            raise ConfigError(f"backend 'dask' cannot start ({exc})", field=field) from None
        raise ConfigError(
            f"unknown joblib backend {name!r} (use loky, threading, sequential, dask or ray, "
            "or register it with joblib.register_parallel_backend first)",
            field=field,
        ) from None


def _dask_client(distributed) -> None:
    """Make sure a ``distributed`` Client is current: connect one to the scheduler that
    ``DASK_SCHEDULER_ADDRESS`` names when there is none."""
    import dask

    try:
        client = distributed.Client.current()
    except ValueError:
        address = dask.config.get("scheduler-address", None)
        if not address:
            raise ConfigError(
                "backend 'dask' needs a Dask cluster: start a dask.distributed Client first, "
                "or set DASK_SCHEDULER_ADDRESS=tcp://HOST:8786",
                field="backend",
            ) from None
        try:
            client = distributed.Client(address)  # becomes the current client, for joblib
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler {address} ({exc})", field="backend"
            ) from None
    threads = max(client.nthreads().values(), default=1)
    if threads > 1:
        log.warning(
            "Dask workers with %d threads run one unit at a time each (torch's RNG belongs to "
            "the process); start them with --nthreads 1",
            threads,
        )


# torch's RNG and thread count belong to the process. The classifier seeds the global RNG
# for its fit (dropout takes no generator), so two units in threads of one process (the
# threading backend, a Dask worker with several threads) would draw from each other's
# streams: they take turns instead, and a cluster runs its units in one-thread workers.
_unit_lock = threading.Lock()


@contextlib.contextmanager
def one_unit_at_a_time(threads: int | None) -> Iterator[None]:
    """Hold this process's unit slot; with ``threads``, pin torch's intra-op threads to that
    number while the unit runs and restore the process's setting afterwards."""
    import torch

    with _unit_lock:
        if not threads:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
