"""The notebooks' widget explorers in real JupyterLab, in headless Chromium (``make test-browser``).

A JupyterLab server is started here (127.0.0.1, a free port, a random token, a temporary root
directory and settings) and stopped at the end. Notebooks 03, 04 and 07 are copied there with their
outputs cleared and ``QUICK = True`` injected after the cell tagged ``parameters`` (papermill's
``parameterize_notebook``, nothing executed), plus a scratch notebook that only builds the two
explorers. Each is opened in a fresh headless Chromium, run with Run > Run All Cells, and then
every explorer found in it (any widget box holding a slider and a drop-down, whatever the cell)
is driven like a reader would: arrow keys on the slider handle, options picked in the menus. In
03, 04 and 07 one step each (k one notch; "exact" in the first menu, or its next option); in the scratch notebook every
value: the slider down to k = 1 and up to k = 10 one notch at a time, and every option of every
menu (shots; the cost explorer's price sheet). After each change the row must show the new value,
the figure must be redrawn whenever the row's numbers change, the output area must hold the row
and the figure (never emptied in between: no flicker), the menus must keep what was picked,
labels must not be cut and no cell may show a traceback.

Then each notebook is saved (Ctrl+S) through the same ``pre_save_hook`` as ``make lab``
(tools/clean_notebooks.py), closed, its kernel shut down, and reopened: the file on disk must hold
no widget view whose state it lacks, and no cell may show "Error displaying widget: model not
found" (issue 21). QNB_BROWSER_NO_SAVE_HOOK=1 starts the server without the hook: the test then
fails, which shows it detects the problem. Screenshots go to build/browser/ (look at them).

Chromium and chromedriver: Debian's ``chromium`` and ``chromium-driver`` (``make browser-deps``),
or any pair given by QNB_CHROMIUM / QNB_CHROMEDRIVER or found on PATH (e.g. a CI image's Chrome).
Every wait is bounded.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import importlib.util
import urllib.request
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SHOTS_DIR = ROOT / "build" / "browser"
NOTEBOOKS = ["03_subsampled_spsa.ipynb", "04_performance_tables.ipynb", "07_where_the_dollars_go.ipynb"]
SCRATCH = "explorers_only.ipynb"  # the two explorers alone: independent of the notebooks' text

SERVER_START_S = 90      # JupyterLab answering /api/status
PAGE_LOAD_S = 90         # notebook rendered and its kernel idle
RUN_ALL_S = int(os.environ.get("QNB_BROWSER_RUN_TIMEOUT", 600))  # Run All Cells finished, per notebook
WIDGET_UPDATE_S = 120    # one explorer recomputing a row and a figure
SAVE_S = 30              # Ctrl+S until the file on disk is rewritten
REOPEN_WIDGETS_S = 30    # a reopened notebook's widget outputs resolved (rendered or an error)
# `make lab`'s hook, unless QNB_BROWSER_NO_SAVE_HOOK=1 (to see this test fail without it)
SAVE_HOOK = None if os.environ.get("QNB_BROWSER_NO_SAVE_HOOK") == "1" else "clean_notebooks.pre_save_hook"

_spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "tools" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1100"]

# JupyterLab user settings: no news/update toasts over the page; every cell kept in the DOM
# (the default windowing can detach cells far from the viewport); no autosave of the copies.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                          "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
if os.environ.get("QNB_LAB_COMMS_OVER_SUBSHELLS"):  # JupyterLab's default: "perCommTarget"
    LAB_SETTINGS["@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings"] = {
        "commsOverSubshells": os.environ["QNB_LAB_COMMS_OVER_SUBSHELLS"]}


# -- tools -------------------------------------------------------------------------------------
def _which(env: str, *candidates: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    for c in candidates:
        found = c if os.path.isabs(c) and os.access(c, os.X_OK) else shutil.which(c)
        if found:
            return found
    return None


# Debian's pair first; else a Chrome with its chromedriver on PATH (as on GitHub's runner images)
CHROMIUM = _which("QNB_CHROMIUM", "/usr/bin/chromium", "google-chrome", "google-chrome-stable", "chromium",
                  "chromium-browser")
CHROMEDRIVER = _which("QNB_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _clean_copy(src: Path, dst: Path, quick: bool = True):
    """The notebook without outputs, execution counts or saved widget state, with QUICK = True
    injected after the parameters cell: whatever the browser then shows comes from this run."""
    nb = load_notebook_node(str(src))  # papermill's reader: the metadata its parameterize expects
    if quick:
        nb = parameterize_notebook(nb, {"QUICK": True})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:  # papermill's reader gives every cell outputs: invalid on a Markdown cell
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
        cell.metadata.get("jupyter", {}).pop("source_hidden", None)  # a collapsed input shows no prompt to wait on
        if not cell.metadata.get("tags", True):
            del cell.metadata["tags"]
    for key in ("widgets", "papermill", "jupytext"):  # no pairing with a .py in the tmp dir
        nb.metadata.pop(key, None)
    nbformat.write(nb, dst)


def _scratch_notebook(dst: Path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "qnb", "display_name": "Python (qnb)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%matplotlib inline\nfrom qnb.research.widgets import cost_explorer, variance_explorer"),
                nbformat.v4.new_code_cell("cost_explorer()"),
                nbformat.v4.new_code_cell("variance_explorer(repeats=5)")]
    nbformat.write(nb, dst)


# -- the server --------------------------------------------------------------------------------
class Lab:
    def __init__(self, root: Path, home: Path):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(24)
        settings = home / "lab-settings"
        for name, value in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(home / "config"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), QNB_FIGURES=str(home / "figures"),
                   MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONHASHSEED="0")
        # as `make lab`: tools/ on the path and clean_notebooks' pre_save_hook on every save
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tools")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        hook = [f"--ContentsManager.pre_save_hook={SAVE_HOOK}"] if SAVE_HOOK else []
        self.log_path = home / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False", *hook],
            cwd=root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                _get_json(self.api("status"), timeout=2)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"JupyterLab did not start; log:\n{self.log_tail()}")
                time.sleep(0.5)

    def api(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}"

    def url(self, notebook: str) -> str:
        # one workspace per notebook: a fresh browser does not get the previous test's tabs back
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={self.token}"

    def kernel_state(self, notebook: str) -> str | None:
        try:
            sessions = _get_json(self.api("sessions"))
        except OSError:
            return None
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == notebook and s.get("kernel")]
        return states[0] if states else None

    def shut_down_sessions(self, notebook: str):
        """Delete the notebook's sessions (their kernels shut down), as a server restart would."""
        for s in _get_json(self.api("sessions")):
            if s.get("path") == notebook:
                req = urllib.request.Request(self.api(f"sessions/{s['id']}"), method="DELETE")
                urllib.request.urlopen(req, timeout=20).close()

    def log_tail(self, n: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self):
        """/api/shutdown (kernels too), then SIGTERM, then SIGKILL to this server's own process group."""
        if self.proc.poll() is None:
            try:
                req = urllib.request.Request(self.api("shutdown"), method="POST")
                urllib.request.urlopen(req, timeout=5).close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftover kernels of this server only
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("no Chromium/chromedriver: run `make browser-deps` (Debian: chromium chromium-driver)")
    root = tmp_path_factory.mktemp("lab-root")
    for name in NOTEBOOKS:
        _clean_copy(ROOT / "notebooks" / name, root / name)
    # 07 reads the committed make-bench result where the repository keeps it: ../figures/ of the notebook
    (root.parent / "figures").mkdir(exist_ok=True)
    shutil.copy(ROOT / "figures" / "bench.json", root.parent / "figures" / "bench.json")
    _scratch_notebook(root / SCRATCH)
    server = Lab(root, tmp_path_factory.mktemp("lab-home"))
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


# -- the page ----------------------------------------------------------------------------------
def wait(driver, seconds, what, condition, poll=0.25):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=poll).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {seconds}s waiting for: {what}") from None


def js(driver, script, *args):
    return driver.execute_script(script, *args)


PROMPTS_JS = """return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
                     .map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');"""


def click_menu(driver, menu: str, item: str):
    top = wait(driver, 20, f"menu {menu}", lambda d: [e for e in d.find_elements(
        By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text.strip() == menu])[0]
    top.click()
    entry = wait(driver, 10, f"menu item {item}", lambda d: [e for e in d.find_elements(
        By.CSS_SELECTOR, ".lm-Menu-item") if e.is_displayed() and e.text.split("\n")[0].strip() == item])[0]
    entry.click()


def open_and_run_all(driver, lab: Lab, notebook: str, n_code: int, empty: set):
    """``empty``: indices of blank code cells, which JupyterLab never runs (their prompt stays [ ])."""
    driver.get(lab.url(notebook))
    wait(driver, PAGE_LOAD_S, f"{notebook}: {n_code} code cells rendered",
         lambda d: len(js(d, PROMPTS_JS)) == n_code)
    wait(driver, PAGE_LOAD_S, f"{notebook}: kernel idle", lambda d: lab.kernel_state(notebook) == "idle", poll=0.5)
    time.sleep(1)  # the kernel status reaches the page a moment after the server
    t0 = time.monotonic()
    click_menu(driver, "Run", "Run All Cells")
    def finished(d):
        prompts = [p for i, p in enumerate(js(d, PROMPTS_JS)) if i not in empty]
        if all(re.fullmatch(r"\s*\[\d+\]:\s*", p) for p in prompts):
            return lab.kernel_state(notebook) == "idle"
        if not any("*" in p for p in prompts) and lab.kernel_state(notebook) == "idle":
            assert_no_tracebacks(d, notebook)  # Run All stops at a failing cell: show its traceback
        return False
    wait(driver, RUN_ALL_S, f"{notebook}: every code cell executed (no [*] or [ ] prompt)", finished, poll=1)
    return time.monotonic() - t0


def assert_no_tracebacks(driver, notebook):
    errors = js(driver, """return Array.from(document.querySelectorAll(
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(e => e.textContent).filter(t => t.includes('Traceback') || /\\w+Error\\b/.test(t));""")
    assert not errors, f"{notebook}: error output in a cell:\n" + "\n---\n".join(e if len(e) < 4000 else e[:1500] + "\n[...]\n" + e[-2500:] for e in errors)
    bad = js(driver, """return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
        .map(e => e.textContent).filter(t => /Error displaying widget|Failed to load model class|Loading widget\\.\\.\\./.test(t));""")
    assert not bad, f"{notebook}: a widget did not render: {bad}"


def explorers(driver):
    """Every widget box with a slider and a drop-down side by side, with the Output next to them."""
    boxes = driver.find_elements(By.XPATH, "//div[contains(@class,'widget-hbox')]"
                                           "[.//div[contains(@class,'widget-slider')] and .//select]")
    found = []
    for box in boxes:
        root = box.find_element(By.XPATH, "..")
        outs = root.find_elements(By.XPATH, "./div[contains(@class,'widget-output')]")
        if outs:
            found.append((root, box, outs[0]))
    return found


def output_state(out):
    """(table rows' text, image src) shown in an explorer's Output; empty strings when absent."""
    return tuple(js(out.parent, """const o = arguments[0];
        const rows = Array.from(o.querySelectorAll('.jp-RenderedMarkdown table tbody tr')).map(r => Array.from(r.querySelectorAll('td')).map(c => c.textContent.trim()).join(' | '));
        const img = o.querySelector('.jp-RenderedImage img');
        return [rows.join(' / '), img && img.complete && img.naturalWidth > 0 ? img.src : ''];""", out))


def output_error(out) -> str:
    return js(out.parent, """return Array.from(arguments[0].querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(e => e.textContent).join('\\n');""", out)


def wait_for_change(driver, out, before, what, figure_changes=True):
    """The row (and the figure) replaced; fails at once when the callback shows a traceback."""
    def changed(d):
        err = output_error(out)
        if "Traceback" in err or "Error" in err:
            (SHOTS_DIR / "callback-error.txt").write_text(f"{what}\n{err}")
            raise AssertionError(f"{what}: the explorer's callback failed:\n{err[:6000]}\n...\n{err[-1500:]}")
        s = output_state(out)
        return s if s[0] and s[1] and s[0] != before[0] and (s[1] != before[1] or not figure_changes) else False
    return wait(driver, WIDGET_UPDATE_S, what, changed)


def cut_labels(box) -> list[str]:
    """Widget labels and menu texts drawn narrower than their text (an ellipsis or a clipped label)."""
    return js(box.parent, """return Array.from(arguments[0].querySelectorAll('.widget-label, .widget-readout, select'))
        .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
        .map(e => (e.textContent || e.value).trim() + ' (' + e.clientWidth + 'px < ' + e.scrollWidth + 'px)');""", box)


FLICKER_JS = """const o = arguments[0];
    // the fewest outputs the explorer's area held after any change to it since the last reset
    // (read when the page could paint): 0 or 1 means the row or the figure vanished for a moment
    if (!o.__qnbObserver) {
        o.__qnbObserver = new MutationObserver(() => {
            o.__qnbFewest = Math.min(o.__qnbFewest, o.querySelectorAll('.jp-OutputArea-child').length); });
        o.__qnbObserver.observe(o, {childList: true, subtree: true});
    }
    const fewest = o.__qnbFewest;
    o.__qnbFewest = Infinity;
    return fewest === Infinity ? null : fewest;"""


def fewest_outputs(out):
    """The fewest outputs the area held since the previous call (None: it did not change)."""
    return js(out.parent, FLICKER_JS, out)


def row_by_header(out) -> dict:
    """The explorer's (one-row) table as {header: cell text}."""
    return dict(js(out.parent, """const t = arguments[0].querySelector('.jp-RenderedMarkdown table');
        if (!t) return [];
        const h = Array.from(t.querySelectorAll('thead th')).map(c => c.textContent.trim());
        const r = Array.from(t.querySelectorAll('tbody tr:first-child td')).map(c => c.textContent.trim());
        return h.map((x, i) => [x, r[i]]);""", out))


def k_shown(row: dict) -> str | None:
    """k as the row shows it: column "k" (cost) or "estimator" = "k=3" (variance)."""
    if "k" in row:
        return row["k"]
    m = re.fullmatch(r"k\s*=\s*(\d+)", row.get("estimator", ""))
    return m and m.group(1)


def menu_shown(row: dict, label: str) -> str | None:
    """The cell of the column a menu sets (the column named in the menu's label: "shots", "price sheet");
    "exact (priced as 1000)" counts as "exact"."""
    cols = [h for h in row if h and h in label]
    return row[cols[0]].split(" (")[0] if cols else None


def menu_state(box):
    """(value, shown text) of every drop-down in the explorer, as the page shows them."""
    return [tuple(v) for v in js(box.parent, """return Array.from(arguments[0].querySelectorAll('select')).map(
        s => [s.value, s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : null]);""", box)]


def menu_label(select) -> str:
    return js(select.parent, """const w = arguments[0].closest('.widget-dropdown');
        const l = w && w.querySelector('.widget-label'); return l ? l.textContent.trim() : '';""", select)


class Driver:
    """One explorer on the page: each change is checked the same way (see ``change``)."""

    def __init__(self, driver, tag, box, out):
        self.driver, self.tag, self.box, self.out = driver, tag, box, out
        self.readout = box.find_element(By.CSS_SELECTOR, ".widget-slider .widget-readout")
        self.handle = box.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
        self.state = output_state(out)
        self.changes, self.figures_redrawn = 0, 0
        self.labels = [menu_label(el) for el in box.find_elements(By.CSS_SELECTOR, "select")]
        fewest_outputs(out)  # installs the observer

    def results(self) -> dict:
        """The row without the columns the menus set (what the figure draws)."""
        return {h: v for h, v in row_by_header(self.out).items() if not any(h and h in lbl for lbl in self.labels)}

    def k(self) -> str:
        return self.readout.text.strip()

    def change(self, what, act, expect_row):
        """``act()``, then: the row is replaced and ``expect_row(row_by_header)`` holds, the figure is redrawn
        if the row's numbers changed, the area never held fewer than its two outputs, no traceback."""
        before, results = self.state, self.results()
        act()
        after = wait_for_change(self.driver, self.out, before, f"{self.tag}: {what}", figure_changes=False)
        if self.results() != results:  # (the cost model prices "exact" as 1000 shots: the same figure)
            after = wait(self.driver, WIDGET_UPDATE_S, f"{self.tag}: {what}: figure redrawn with the new row",
                         lambda d: (lambda s: s if s[1] and s[1] != before[1] else False)(output_state(self.out)))
        assert expect_row(row_by_header(self.out)), f"{self.tag}: {what}: the row does not show it: {row_by_header(self.out)}"
        fewest = fewest_outputs(self.out)
        assert fewest is None or fewest >= 2, \
            f"{self.tag}: {what}: the output area held {fewest} output(s) for a moment (row and figure: 2): a flicker"
        self.changes += 1
        self.figures_redrawn += after[1] != before[1]
        self.state = after
        return after

    def notch(self, up: bool) -> str:
        """One arrow key on the handle: the readout moves to the next value (k + 1 on an integer
        slider, the next option on a selection slider such as k in {1, 2, 5}); the row must show it."""
        if self.handle != self.driver.switch_to.active_element:
            self.handle.click()
        k0, menus, moved = self.k(), menu_state(self.box), {}
        def press():
            self.handle.send_keys(Keys.ARROW_RIGHT if up else Keys.ARROW_LEFT)
            wait(self.driver, 20, f"{self.tag}: slider readout leaves {k0}", lambda d: self.k() != k0)
            moved["k"] = self.k()
        self.change(f"k {k0} -> {'up' if up else 'down'} one notch", press, lambda row: k_shown(row) == moved["k"])
        assert int(moved["k"]) > int(k0) if up else int(moved["k"]) < int(k0), f"{self.tag}: {k0} -> {moved['k']}"
        assert menu_state(self.box) == menus, f"{self.tag}: moving the slider changed a menu: {menus} -> {menu_state(self.box)}"
        return moved["k"]

    def slider_to(self, target: int):
        """Arrow keys on the handle, one notch at a time, to ``target`` (an integer slider); every
        notch checked: each moves k by one."""
        while int(self.k()) != target:
            k0 = int(self.k())
            k1 = int(self.notch(target > k0))
            assert abs(k1 - k0) == 1, f"{self.tag}: one notch moved k {k0} -> {k1}"
        return self.state

    def pick(self, index: int, option: str):
        """``option`` in the ``index``-th menu; it stays shown, the row shows it, nothing else moves."""
        el = self.box.find_elements(By.CSS_SELECTOR, "select")[index]
        label = menu_label(el)
        k, menus = self.k(), menu_state(self.box)
        self.change(f"{label}: {menus[index][1]} -> {option}", lambda: Select(el).select_by_visible_text(option),
                    lambda row: menu_shown(row, label) == option)
        now = menu_state(self.box)
        assert now[index][1] == option, f"{self.tag}: menu {index} shows {now[index]} after picking {option!r}"
        assert [m for j, m in enumerate(now) if j != index] == [m for j, m in enumerate(menus) if j != index], \
            f"{self.tag}: picking {option!r} changed another menu: {menus} -> {now}"
        assert self.k() == k, f"{self.tag}: picking {option!r} moved the slider ({k} -> {self.k()})"


def drive_explorer(driver, notebook, i, root, box, out, every_value=False):
    tag = f"{notebook} explorer {i}"
    js(driver, "arguments[0].scrollIntoView({block: 'center'});", root)
    wait(driver, WIDGET_UPDATE_S, f"{tag}: initial row and figure", lambda d: all(output_state(out)))
    labels = [e.text for e in box.find_elements(By.CSS_SELECTOR, ".widget-label") if e.text]
    assert not cut_labels(box), f"{tag}: cut labels {cut_labels(box)} (labels {labels})"
    report = {"labels": labels}
    ex = Driver(driver, tag, box, out)
    k0 = ex.k()
    kmin, kmax = (int(float(js(driver, f"return arguments[0].getAttribute('aria-value{m}')", ex.handle)))
                  for m in ("min", "max"))
    selects = box.find_elements(By.CSS_SELECTOR, "select")
    menus = [[o.text for o in Select(el).options] for el in selects]
    row = row_by_header(out)
    assert k_shown(row) == k0, f"{tag}: the first row does not show k = {k0}: {row}"
    for (_, shown), el in zip(menu_state(box), selects):
        assert menu_shown(row, menu_label(el)) == shown, \
            f"{tag}: the first row does not show the menu {menu_label(el)!r}'s {shown!r}: {row}"

    if every_value:  # every notch of the slider, both ways, then every option of every menu
        ex.slider_to(kmin)
        ex.slider_to(kmax)
        report["slider"] = f"k {k0} -> {kmin} -> {kmax}, one notch at a time (every value from {kmin} to {kmax})"
        for m, options in enumerate(menus):
            first = menu_state(box)[m][1]
            for option in options[options.index(first) + 1:] + options[:options.index(first)]:
                ex.pick(m, option)
        report["menus"] = "every option of " + " and ".join(f"[{', '.join(o)}]" for o in menus)
        report["changes"] = f"{ex.changes} changes, {ex.figures_redrawn} with a redrawn figure, none emptied the area"
    else:  # one notch, and "exact" in the first menu (another option where it has none)
        before = ex.state
        at_top = js(driver, "return arguments[0].getAttribute('aria-valuenow') === arguments[0].getAttribute('aria-valuemax')",
                    ex.handle)
        k1 = ex.notch(up=not at_top)
        report["slider"] = f"k {k0} -> {k1}: row {before[0]!r} -> {ex.state[0]!r}"
        before = ex.state
        shown0 = menu_state(box)[0][1]
        option = "exact" if "exact" in menus[0] else next(o for o in menus[0] if o != shown0)
        ex.pick(0, option)  # (the cost figure may stay: the cost model prices "exact" as 1000 shots)
        report["dropdown"] = (f"{menu_label(selects[0])} {shown0} -> {option}: row {ex.state[0]!r}, figure "
                              + ("changed" if ex.state[1] != before[1] else "unchanged"))

    time.sleep(1.0)  # any late echo of the last change from the kernel has come back by now
    final = menu_state(box)
    assert all(shown for _, shown in final), f"{tag}: a menu went blank: {final}"
    assert all(output_state(out)), f"{tag}: the output area lost its row or figure: {output_state(out)}"
    img = js(driver, """const i = arguments[0].querySelector('.jp-RenderedImage img');
        return [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight];""", out)
    assert img[0] > 100 and img[2] > 100, f"{tag}: figure not drawn: {img}"
    report["figure"] = "natural %dx%d, shown %dx%d px" % tuple(img)
    assert not cut_labels(box), f"{tag}: cut labels after interaction: {cut_labels(box)}"
    root.screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}-explorer{i}.png"))
    return report


# -- save, close, reopen -----------------------------------------------------------------------
def saved_notebook_problems(path: Path, n_code: int, empty: set) -> tuple[list[str], dict]:
    """What is wrong with the notebook file as saved, and what it holds."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    held = {"outputs": len(outputs), "images": sum("image/png" in o.get("data", {}) for o in outputs),
            "widget views": sum(clean_notebooks.WIDGET_VIEW in o.get("data", {}) for o in outputs),
            "widget state saved": bool(nb.get("metadata", {}).get("widgets"))}
    problems = []
    stateless = clean_notebooks.stateless_widget_outputs(nb)
    if stateless:
        problems.append(f"the saved file holds {len(stateless)} widget view(s) without their state "
                        f"(model ids {stateless}): reopened, they show 'model not found'")
    unrun = [i for i, c in enumerate(code) if i not in empty and c.get("execution_count") is None]
    if unrun or len(code) != n_code:
        problems.append(f"the saved file is not the run notebook: code cells {unrun} have no execution count")
    return problems, held


def save_close_reopen(driver, lab: Lab, notebook: str, n_code: int, empty: set) -> str:
    path = lab.root / notebook
    mtime = path.stat().st_mtime_ns
    notebook_area = driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    js(driver, "arguments[0].focus();", notebook_area)
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    wait(driver, SAVE_S, f"{notebook}: Ctrl+S rewrote the file", lambda d: path.stat().st_mtime_ns != mtime, poll=0.5)
    wait(driver, SAVE_S, f"{notebook}: the tab no longer marked unsaved",
         lambda d: not d.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab.lm-mod-current.jp-mod-dirty"))
    time.sleep(0.5)  # the file written in full
    problems, held = saved_notebook_problems(path, n_code, empty)

    driver.find_element(By.CSS_SELECTOR, ".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon").click()
    wait(driver, 20, f"{notebook}: tab closed", lambda d: not d.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel"))
    lab.shut_down_sessions(notebook)  # reopened later, as after a restart: a new kernel, no widget models
    driver.get(lab.url(notebook))
    wait(driver, PAGE_LOAD_S, f"{notebook} reopened: {n_code} code cells rendered", lambda d: len(js(d, PROMPTS_JS)) == n_code)
    wait(driver, PAGE_LOAD_S, f"{notebook} reopened: kernel idle", lambda d: lab.kernel_state(notebook) == "idle", poll=0.5)
    pending = """return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
        .filter(e => /Loading widget\\.\\.\\./.test(e.textContent)).length;"""
    wait(driver, REOPEN_WIDGETS_S, f"{notebook} reopened: widget outputs resolved", lambda d: js(d, pending) == 0, poll=0.5)
    time.sleep(1.0)
    shown = js(driver, """return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
        .map(e => e.textContent).filter(t => /Error displaying widget|model not found/.test(t));""")
    if shown:
        problems.append(f"reopened, {len(shown)} cell output(s) show: {sorted(set(t.strip()[:120] for t in shown))}")
    count_images = """return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedImage img'))
        .filter(i => i.complete && i.naturalWidth > 0).length;"""
    try:
        images = wait(driver, 20, "", lambda d: (lambda n: n if n >= held["images"] else False)(js(d, count_images)))
    except AssertionError:
        images = js(driver, count_images)
    if images < held["images"]:
        problems.append(f"reopened, {images} figure(s) shown of the {held['images']} saved")
    driver.save_screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}-reopened.png"))
    assert not problems, f"{notebook}, saved (pre_save_hook: {SAVE_HOOK}), closed and reopened:\n  " + "\n  ".join(problems)
    return (f"saved with hook {SAVE_HOOK}: {held['outputs']} outputs ({held['images']} figures, "
            f"{held['widget views']} widget views, widget state saved: {held['widget state saved']}); "
            f"reopened: {images} figures shown, no widget error")


@pytest.mark.parametrize("notebook", NOTEBOOKS + [SCRATCH], ids=lambda n: Path(n).stem)
def test_widgets_in_jupyterlab(lab, browser, notebook):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(lab.root / notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    n_code, empty = len(code), {i for i, c in enumerate(code) if not c.source.strip()}
    try:
        run_s = open_and_run_all(browser, lab, notebook, n_code, empty)
        assert_no_tracebacks(browser, notebook)
        found = wait(browser, 30, f"{notebook}: an explorer (slider + drop-down + output)", lambda d: explorers(d))
        t0 = time.monotonic()
        reports = [drive_explorer(browser, notebook, i, *ex, every_value=notebook == SCRATCH)
                   for i, ex in enumerate(found)]
        drive_s = time.monotonic() - t0
        assert_no_tracebacks(browser, notebook)
        js(browser, "arguments[0].scrollIntoView({block: 'start'});", found[-1][0])
        time.sleep(0.3)
        browser.save_screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}.png"))
        t0 = time.monotonic()
        reopened = save_close_reopen(browser, lab, notebook, n_code, empty)
        reopen_s = time.monotonic() - t0
    except (AssertionError, WebDriverException):
        try:
            browser.save_screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}-FAILED.png"))
            console = [e["message"] for e in browser.get_log("browser")][-20:]
        except WebDriverException:
            console = []
        print(f"browser console (severe):\n" + "\n".join(console))
        print(f"JupyterLab log (tail):\n{lab.log_tail()}")
        raise
    print(f"\n{notebook}: Run All {run_s:.0f}s, {len(reports)} explorer(s) driven in {drive_s:.0f}s, "
          f"save/close/reopen {reopen_s:.0f}s")
    for i, r in enumerate(reports):
        print(f"  explorer {i}: " + "; ".join(f"{k}: {v}" for k, v in r.items()))
    print(f"  {reopened}")
