"""Strip what changes on every run without changing the notebook: run timestamps and durations
(papermill's and Jupyter's), papermill's per-cell status and injected parameters cell, and random
widget ids, in place.
`make notebooks` calls it after executing them, then re-syncs the jupytext pair.

    python tools/clean_notebooks.py notebooks/*.ipynb
"""
import json
import sys

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # holds a random model_id


def clean(nb: dict) -> dict:
    meta = nb.setdefault("metadata", {})
    meta.pop("papermill", None)  # run times, input/output paths
    meta.pop("widgets", None)    # saved widget state: random ids, and no code host renders it
    # papermill's injected parameters cell: the committed notebook shows its own defaults
    nb["cells"] = [c for c in nb.get("cells", []) if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    count = 0
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code" and cell.get("execution_count") is not None:
            count += 1  # renumbered 1, 2, 3, ... once the injected cell is gone
            cell["execution_count"] = count
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
        cm = cell.setdefault("metadata", {})
        for k in ("execution", "papermill"):
            cm.pop(k, None)
        if cm.get("tags") == []:
            del cm["tags"]
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            nb = json.load(f)
        with open(path, "w") as f:
            json.dump(clean(nb), f, indent=1, ensure_ascii=False)
            f.write("\n")
