"""Many independent runs (seeds x methods x data sets) on an existing engine, not a home-made pool.

``run_tasks(fn, tasks)`` calls ``fn(task)`` for every task and returns the results in task order:
joblib's process backend (loky) on this machine by default, a Dask cluster when the caller passes
a ``dask.distributed.Client``. Every task carries its own seed and nothing is shared between
tasks, so the results are identical whatever the engine and the number of workers (tested).
"""
from __future__ import annotations

import os
import time

from tqdm.auto import tqdm


def _timed(fn, task):
    """fn(task), with where and how long it ran (for the study's report)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(task)
    cpu = time.process_time() - c
    try:
        from distributed import get_worker
        where = get_worker().address
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    return out, {"worker": where, "wall_s": time.perf_counter() - t, "cpu_s": cpu}


def run_tasks(fn, tasks, *, workers: int | None = None, client=None, progress: bool = False,
              desc: str = "runs", log: list | None = None, timeout_s: float | None = None) -> list:
    """``[fn(t) for t in tasks]``, spread over workers; results in task order.

    ``client``: a ``dask.distributed.Client``: the tasks go to its cluster (``fn`` and the tasks
    must be importable there, e.g. qnb installed on every worker; use process workers: threads in one
    process share PennyLane's global queuing lock and numpy's global generator). Otherwise joblib's process
    backend with ``workers`` processes (default: every core, at most one per task); ``workers=1``
    runs in this process. ``log``: a list that receives, per task, the worker and its wall time.
    ``timeout_s`` (Dask): give up (TimeoutError) if the cluster has not finished by then.
    """
    tasks = list(tasks)
    if not tasks:
        return []
    bar = tqdm(total=len(tasks), disable=not progress, desc=desc, unit="run")
    if client is not None:
        from distributed import as_completed
        futures = client.map(_timed, [fn] * len(tasks), tasks, pure=False)
        for _ in as_completed(futures, timeout=timeout_s):
            bar.update(1)
        pairs = client.gather(futures)
    else:
        workers = min(len(tasks), workers or os.cpu_count() or 1)
        if workers <= 1:
            pairs = []
            for t in tasks:
                pairs.append(_timed(fn, t))
                bar.update(1)
        else:
            from joblib import Parallel, delayed
            pairs = []
            for p in Parallel(n_jobs=workers, backend="loky", return_as="generator")(
                    delayed(_timed)(fn, t) for t in tasks):
                pairs.append(p)
                bar.update(1)
    bar.close()
    if log is not None:
        log.extend({"task": i, **info} for i, (_, info) in enumerate(pairs))
    return [out for out, _ in pairs]


def worker_summary(log: list) -> list[dict]:
    """Per worker: tasks run, busy (wall) seconds and CPU seconds (how a study divided across
    workers; CPU seconds do not grow when other programs share the cores)."""
    rows = {}
    for r in log:
        w = rows.setdefault(r["worker"], {"worker": r["worker"], "tasks": 0, "busy_s": 0.0, "cpu_s": 0.0})
        w["tasks"] += 1
        w["busy_s"] += r["wall_s"]
        w["cpu_s"] += r.get("cpu_s", 0.0)
    return sorted(rows.values(), key=lambda r: r["worker"])
