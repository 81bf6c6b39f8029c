"""`make reproduce`: run every notebook headlessly (papermill), then print the summary tables.

    python tools/reproduce.py [--quick] [--only 01,05]

Every notebook runs with RECOMPUTE = True: its multi-seed studies are computed and written to
figures/studies/, its figures and tables to figures/ (the notebooks write there because this
script sets QNB_FIGURES; opened in JupyterLab, they do not). The executed notebooks go to
build/notebooks/ and, cleaned (tools/clean_notebooks.py), back over notebooks/*.ipynb: a notebook
run with RECOMPUTE = True prints exactly what one that reads the studies prints, so the committed
outputs always match the committed studies. --quick runs the small QUICK mode into build/ only;
--reuse-studies reads the studies instead (make notebooks: after an edit that changes no study).
Lives outside the package: an installed qnb never writes into its own location.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from qnb import METHODS
from qnb.research import experiments as E

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from clean_notebooks import clean  # noqa: E402


def _ipc_kernel_manager():
    """The kernel over local (unix-socket) IPC instead of TCP on localhost: nothing listens on a
    port, and ipykernel has no reason to warn that it is "running over TCP without encryption"."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        transport = "ipc"
    return IPCKernelManager


def run_notebooks(quick: bool, only: list[str] | None, recompute: bool = True) -> None:
    import papermill as pm

    out_dir = ROOT / "build" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if only and nb.name[:2] not in only:
            continue
        t = time.perf_counter()
        print(f"running {nb.name} ...", flush=True)
        out = out_dir / nb.name
        pm.execute_notebook(str(nb), str(out), parameters={"QUICK": quick, "RECOMPUTE": recompute and not quick}, kernel_name="qnb",
                            kernel_manager_class=_ipc_kernel_manager(), cwd=str(nb.parent), progress_bar=False,
                            execution_timeout=1800)
        if not quick:
            with open(out) as f:
                executed = clean(json.load(f))
            with open(nb, "w") as f:
                json.dump(executed, f, indent=1, ensure_ascii=False)
                f.write("\n")
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the notebooks' QUICK mode (minutes)")
    ap.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,05")
    ap.add_argument("--reuse-studies", action="store_true",
                    help="read figures/studies/ instead of recomputing them (minutes instead of a quarter hour)")
    args = ap.parse_args(argv)
    os.environ.setdefault("QNB_FIGURES", str(ROOT / "figures"))  # inherited by the notebooks' kernels
    run_notebooks(args.quick, [s for s in args.only.split(",") if s] or None, recompute=not args.reuse_studies)
    rows = []
    for method in METHODS:
        c = E.step_cost(method)
        rows.append({"method": method, "circuits": c["circuits"], "jobs": c["jobs"], "modeled s": c["modeled_s"]})
    print("\nOne batch of 10 samples, 48 parameters, counted by the CircuitBatchManager:\n")
    print(E.table(rows))
    table = Path(E.figures_dir()) / "performance_comparison.md"
    if table.exists():
        print("\nPerformance Comparison: the document's figures, qnb's model and qnb's measurement:\n")
        print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
