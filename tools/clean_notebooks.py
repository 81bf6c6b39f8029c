"""Strip what changes on every run without changing the notebook: run timestamps and durations
(papermill's and Jupyter's), papermill's per-cell status and injected parameters cell, and widget
outputs (random ids, and a view that needs state no committed notebook keeps), in place.
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
        if cell.get("cell_type") != "code":  # papermill gives markdown cells an "outputs" key nbformat does not define
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
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
        # a widget's output: its view needs the widget state, which is never saved (JupyterLab then shows
        # "Error displaying widget: model not found"), and its text is a repr (VBox(children=...)): dropped
        if cell.get("cell_type") == "code":
            cell["outputs"] = coalesce_streams([o for o in cell.get("outputs", []) if WIDGET_VIEW not in o.get("data", {})])
    return nb


def coalesce_streams(outputs: list[dict]) -> list[dict]:
    """Consecutive prints to one stream as one output: where the kernel cut them depends on when it
    flushed, so the same text could be stored as one output or two on a re-run."""
    merged = []
    for o in outputs:
        if (o.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == o.get("name")):
            text = "".join(merged[-1]["text"]) + "".join(o["text"])
            merged[-1] = {**merged[-1], "text": text.splitlines(keepends=True)}
        else:
            merged.append(o)
    return merged


def stateless_widget_outputs(nb: dict) -> list[str]:
    """The model ids of widget views whose state the notebook does not hold (what JupyterLab shows
    as "Error displaying widget: model not found" when the notebook is reopened)."""
    state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [o["data"][WIDGET_VIEW].get("model_id", "") for c in nb.get("cells", []) for o in c.get("outputs", [])
            if WIDGET_VIEW in o.get("data", {}) and o["data"][WIDGET_VIEW].get("model_id") not in state]


def pre_save_hook(model, **kwargs):
    """JupyterLab's save hook (``make lab`` installs it): a widget output saved without its state is
    dropped, so that a reopened notebook never shows "model not found"; one with state is kept."""
    if model.get("type") != "notebook":
        return
    nb = model["content"]
    missing = set(stateless_widget_outputs(nb))
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"]
                               if o.get("data", {}).get(WIDGET_VIEW, {}).get("model_id", None) not in missing
                               or WIDGET_VIEW not in o.get("data", {})]


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            nb = json.load(f)
        with open(path, "w") as f:
            json.dump(clean(nb), f, indent=1, ensure_ascii=False)
            f.write("\n")
