"""Every notebook runs headlessly with papermill in QUICK mode, each on its own."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_seven_numbered_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_quick_with_papermill(path, tmp_path, monkeypatch):
    import papermill as pm
    monkeypatch.setenv("QNB_FIGURES", str(tmp_path / "figures"))
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters={"QUICK": True}, kernel_name="qnb", cwd=str(path.parent),
                        progress_bar=False, execution_timeout=600)
    nb = json.loads(out.read_text())
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert '"output_type": "error"' not in outputs
    assert str(ROOT) not in outputs and str(tmp_path) not in outputs  # no machine paths in outputs
    assert list((tmp_path / "figures").glob("*.png")) or path.stem.startswith("05")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_executed_and_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("parameters" in c["metadata"].get("tags", []) for c in code)
    assert all(c.get("execution_count") for c in code), "committed without being run top to bottom"
    text = json.dumps([c.get("outputs", []) for c in code])
    assert '"output_type": "error"' not in text and "apiKey " not in text and str(ROOT) not in text
    raw = path.read_text()  # no run timestamps: a re-run changes only what changed (tools/clean_notebooks.py)
    assert '"end_time"' not in raw and '"iopub.execute_input"' not in raw


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_what_the_cleaner_leaves(path):
    """A committed notebook is a fixed point of tools/clean_notebooks.py: nothing that differs from
    run to run (timestamps, widget ids, where a kernel split a print, an "outputs" key on markdown
    cells in whichever order papermill wrote it) is left, so a second make reproduce changes nothing."""
    from clean_notebooks import clean
    nb = json.loads(path.read_text())
    assert clean(json.loads(path.read_text())) == nb, f"{path.name}: run tools/clean_notebooks.py on it"
    assert path.read_text() == json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def test_clean_joins_a_split_print_and_drops_markdown_outputs():
    from clean_notebooks import clean
    out = lambda t: {"output_type": "stream", "name": "stdout", "text": [t]}
    nb = {"metadata": {}, "cells": [{"cell_type": "markdown", "metadata": {}, "source": "m", "outputs": []},
                                    {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "c",
                                     "outputs": [out("a\n"), out("b\n"), {**out("e\n"), "name": "stderr"}]}]}
    cleaned = clean(nb)
    assert "outputs" not in cleaned["cells"][0]
    assert [(o["name"], o["text"]) for o in cleaned["cells"][1]["outputs"]] == [("stdout", ["a\n", "b\n"]), ("stderr", ["e\n"])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_widget_view_without_its_state(path):
    """A widget output saved without the widget state reopens as "Error displaying widget: model not
    found" in JupyterLab (a save after running 03 or 04 stores one)."""
    from clean_notebooks import stateless_widget_outputs
    assert not stateless_widget_outputs(json.loads(path.read_text())), f"{path.name}: run tools/clean_notebooks.py on it"


def test_clean_and_the_save_hook_drop_a_stateless_widget_output():
    from clean_notebooks import WIDGET_VIEW, clean, pre_save_hook, stateless_widget_outputs
    view = {"output_type": "display_data", "metadata": {},
            "data": {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, "text/plain": "VBox(children=(...))"}}
    text = {"output_type": "stream", "name": "stdout", "text": "kept\n"}
    nb = lambda: {"metadata": {}, "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "w",
                                            "outputs": [view, text]}]}
    assert stateless_widget_outputs(nb()) == ["abc"]
    assert clean(nb())["cells"][0]["outputs"] == [text]
    model = {"type": "notebook", "content": nb()}
    pre_save_hook(model=model, path="x.ipynb")
    assert model["content"]["cells"][0]["outputs"] == [text]
    kept = {"type": "notebook", "content": {**nb(), "metadata": {"widgets": {
        "application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}}}}}}
    pre_save_hook(model=kept, path="x.ipynb")
    assert len(kept["content"]["cells"][0]["outputs"]) == 2 and not stateless_widget_outputs(kept["content"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupytext_pair_is_in_sync(path):
    """Each notebook is a jupytext pair (py:percent): the .py (for editors and diffs) and the
    .ipynb (for JupyterLab, with outputs) hold the same cells. `make notebooks` syncs them."""
    import jupytext
    import nbformat
    py, nb = jupytext.read(path.with_suffix(".py")), nbformat.read(path, as_version=4)
    cells = lambda n: [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in n.cells]
    assert cells(py) == cells(nb), f"{path.name} and {path.with_suffix('.py').name} differ: run `make notebooks`"
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_takes_the_same_parameters_and_closes_with_a_watermark(path):
    import nbformat
    nb = nbformat.read(path, as_version=4)
    params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name in ("QUICK = False", "RANDOM_SEED = 0", "RECOMPUTE = False"):
        assert name in params
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "qnb.watermark()" in last.source and "watermark: Python" in json.dumps(last.outputs)
