"""Strip run timestamps and durations (papermill's and Jupyter's) from notebooks, in place, so
that a re-run changes only what changed. `make notebooks` calls it after executing them.

    python tools/clean_notebooks.py notebooks/*.ipynb
"""
import json
import sys

TIMING_KEYS = ("start_time", "end_time", "duration")


def clean(nb: dict) -> dict:
    pm = nb.get("metadata", {}).get("papermill")
    if isinstance(pm, dict):
        for k in TIMING_KEYS:
            pm.pop(k, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)  # Jupyter's iopub timestamps
        cpm = cell.get("metadata", {}).get("papermill")
        if isinstance(cpm, dict):
            for k in TIMING_KEYS:
                cpm.pop(k, None)
    return nb


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            nb = json.load(f)
        with open(path, "w") as f:
            json.dump(clean(nb), f, indent=1, ensure_ascii=False)
            f.write("\n")
