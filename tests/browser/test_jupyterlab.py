"""The notebooks' widget explorers in real JupyterLab, in headless Chromium (``make test-browser``).

A JupyterLab server is started here (127.0.0.1, a free port, a random token, a temporary root
directory and settings) and stopped at the end. Notebooks 03 and 04 are copied there with their
outputs cleared and ``QUICK = True`` injected after the cell tagged ``parameters`` (papermill's
``parameterize_notebook``, nothing executed), plus a scratch notebook that only builds the two
explorers. Each is opened in a fresh headless Chromium, run with Run > Run All Cells, and then
every explorer found in it (any widget box holding a slider and a drop-down, whatever the cell)
is driven like a reader would: arrow keys on the slider handle, "exact" in the shots menu. The
rows and figures under it must change, the menu must keep "exact", labels must not be cut and
no cell may show a traceback. Screenshots go to build/browser/ (look at them).

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
import urllib.request
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SHOTS_DIR = ROOT / "build" / "browser"
NOTEBOOKS = ["03_subsampled_spsa.ipynb", "04_performance_tables.ipynb"]
SCRATCH = "explorers_only.ipynb"  # the two explorers alone: independent of the notebooks' text

SERVER_START_S = 90      # JupyterLab answering /api/status
PAGE_LOAD_S = 90         # notebook rendered and its kernel idle
RUN_ALL_S = int(os.environ.get("QNB_BROWSER_RUN_TIMEOUT", 600))  # Run All Cells finished, per notebook
WIDGET_UPDATE_S = 120    # one explorer recomputing a row and a figure
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
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
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
        self.log_path = home / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"],
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


def cells_of(row_text: str) -> list[str]:
    return [c.strip() for c in re.split(r"\||/", row_text) if c.strip()]


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


def drive_explorer(driver, notebook, i, root, box, out):
    tag = f"{notebook} explorer {i}"
    js(driver, "arguments[0].scrollIntoView({block: 'center'});", root)
    wait(driver, WIDGET_UPDATE_S, f"{tag}: initial row and figure", lambda d: all(output_state(out)))
    labels = [e.text for e in box.find_elements(By.CSS_SELECTOR, ".widget-label") if e.text]
    assert not cut_labels(box), f"{tag}: cut labels {cut_labels(box)} (labels {labels})"
    report = {"labels": labels}

    # the slider: focus its handle, arrow key; the readout, the row and the figure follow
    readout = box.find_element(By.CSS_SELECTOR, ".widget-slider .widget-readout")
    handle = box.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
    k0, before = readout.text.strip(), output_state(out)
    handle.click()
    handle.send_keys(Keys.ARROW_LEFT if k0 == js(driver, "return arguments[0].getAttribute('aria-valuemax')",
                                                  handle).split(".")[0] else Keys.ARROW_RIGHT)
    wait(driver, 20, f"{tag}: slider readout moves from {k0}", lambda d: readout.text.strip() not in ("", k0))
    k1 = readout.text.strip()
    after = wait_for_change(driver, out, before, f"{tag}: row and figure change after k {k0} -> {k1}")
    assert k1 in cells_of(after[0]) or re.search(rf"\bk\s*=\s*{k1}\b", after[0]), \
        f"{tag}: the row does not show k = {k1}: {after[0]!r}"
    report["slider"] = f"k {k0} -> {k1}: row {before[0]!r} -> {after[0]!r}"

    # the shots menu: "exact" stays chosen, and the row says so
    select = Select(box.find_element(By.CSS_SELECTOR, "select"))
    before = after
    shown0 = select.first_selected_option.text
    select.select_by_visible_text("exact")
    # (the figure may stay the same: the cost model prices "exact" as 1000 shots)
    after = wait_for_change(driver, out, before, f"{tag}: row changes after shots {shown0} -> exact",
                            figure_changes=False)
    time.sleep(1.0)  # the kernel's echo of the new value has come back by now
    el = box.find_element(By.CSS_SELECTOR, "select")
    shown = js(driver, "const s = arguments[0]; return [s.value, s.selectedIndex, "
                       "s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : null];", el)
    assert shown[2] == "exact" and shown[1] >= 0, f"{tag}: the shots menu does not show 'exact' after choosing it: {shown}"
    assert any(c.startswith("exact") for c in cells_of(output_state(out)[0])), \
            f"{tag}: the row does not show 'exact': {output_state(out)[0]!r}"
    assert readout.text.strip() == k1, f"{tag}: choosing shots moved the slider ({k1} -> {readout.text})"
    report["dropdown"] = (f"shots {shown0} -> {shown[2]}: row {output_state(out)[0]!r}, figure "
                          + ("changed" if output_state(out)[1] != before[1] else "unchanged"))

    img = js(driver, """const i = arguments[0].querySelector('.jp-RenderedImage img');
        return [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight];""", out)
    assert img[0] > 100 and img[2] > 100, f"{tag}: figure not drawn: {img}"
    report["figure"] = "natural %dx%d, shown %dx%d px" % tuple(img)
    assert not cut_labels(box), f"{tag}: cut labels after interaction: {cut_labels(box)}"
    root.screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}-explorer{i}.png"))
    return report


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
        reports = [drive_explorer(browser, notebook, i, *ex) for i, ex in enumerate(found)]
        assert_no_tracebacks(browser, notebook)
        js(browser, "arguments[0].scrollIntoView({block: 'start'});", found[-1][0])
        time.sleep(0.3)
        browser.save_screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}.png"))
    except (AssertionError, WebDriverException):
        try:
            browser.save_screenshot(str(SHOTS_DIR / f"{Path(notebook).stem}-FAILED.png"))
            console = [e["message"] for e in browser.get_log("browser")][-20:]
        except WebDriverException:
            console = []
        print(f"browser console (severe):\n" + "\n".join(console))
        print(f"JupyterLab log (tail):\n{lab.log_tail()}")
        raise
    print(f"\n{notebook}: Run All {run_s:.0f}s, {len(reports)} explorer(s)")
    for i, r in enumerate(reports):
        print(f"  explorer {i}: " + "; ".join(f"{k}: {v}" for k, v in r.items()))
