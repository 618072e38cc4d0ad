"""The notebooks as a user runs them: JupyterLab in a real browser (headless Chromium).

A JupyterLab server starts on a free local port, its root a scratch folder holding a copy of
``notebooks/`` (so an autosave never writes outputs into the repository, and the notebook
finds the kit's files wherever it is opened); Chromium, driven by Playwright, opens a
notebook, runs all its cells from the Run menu once the kernel is ready, waits for every cell
to finish, and checks what a user sees: no error output, and at least one chart drawn (an
image or a Vega-Lite canvas/SVG in an output). A screenshot of each goes to
``data/browser/``. The kernel runs in the notebook's own folder, as JupyterLab runs it.

Needs Debian's ``chromium`` (``.ci/run`` installs it); the Playwright Python package drives it
(its own browser download is never used).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from allockit.paths import DATA_DIR, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
SHOTS = DATA_DIR / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1: (base URL, token)."""
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter")
    # every cell in the DOM (no virtual scrolling), and no news prompt over the outputs
    settings = home / "settings"
    for name, value in (("notebook-extension/tracker", {"windowingMode": "none"}),
                        ("apputils-extension/notification", {"fetchNews": "false"}),
                        ("docmanager-extension/plugin", {"autosave": False})):
        f = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    root = home / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    # as a user would edit the parameters cell: the sweep notebook runs 2 trials per point
    # (minutes instead of seconds otherwise); the seed notebook runs at its own size
    sweep_nb = root / "notebooks" / "04-sweep-cma-size.ipynb"
    text = sweep_nb.read_text()
    assert '"overrides = {}\\n"' in text
    sweep_nb.write_text(text.replace('"overrides = {}\\n"', '"overrides = {\\"trials\\": 2}\\n"'))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=", "--allow-root"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("jupyter lab did not start: "
                                   + proc.stderr.read().decode(errors="replace")[-2000:]
                                   ) from None
            time.sleep(0.5)
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for_kernel(base: str, token: str, notebook: str, timeout_s: float = 120) -> None:
    """Until the notebook's kernel has started and is idle (the server's sessions API)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as r:
            sessions = json.load(r)
        if any(s.get("path") == notebook and s.get("kernel", {}).get("execution_state") == "idle"
               for s in sessions):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the kernel of {notebook} did not start")


def run_in_browser(base: str, token: str, notebook: str, shot: Path, timeout_s: float = 900):
    """Open ``notebook`` in JupyterLab, run all cells, return (error texts, charts drawn)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        # a workspace of its own, reset: only this notebook is open
        space = Path(notebook).stem
        page.goto(f"{base}/lab/workspaces/{space}/tree/{notebook}?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
        wait_for_kernel(base, token, notebook)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # every code cell has run once its prompt shows a number and the kernel is idle
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending = page.locator(".jp-CodeCell .jp-InputPrompt").evaluate_all(
                "els => els.filter(e => !/\\[\\d+\\]/.test(e.textContent)).length")
            busy = page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").count()
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.error']").count()
            if errors or (pending == 0 and not busy):
                break
            time.sleep(1)
        errors = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.error']").all_inner_texts()
        charts = page.locator(".jp-OutputArea-output img, .jp-OutputArea-output canvas, "
                              ".jp-OutputArea-output .vega-embed svg").count()
        shown = page.locator(".jp-OutputArea-output img")
        if shown.count():
            shown.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shot))
        browser.close()
    return errors, charts, pending


@pytest.mark.parametrize("notebook", ["notebooks/01-seed-reproduction.ipynb",
                                      "notebooks/04-sweep-cma-size.ipynb"])
def test_notebook_runs_in_jupyterlab_in_a_real_browser(lab, notebook):
    base, token = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{Path(notebook).stem}.png"
    errors, charts, pending = run_in_browser(base, token, notebook, shot)
    assert not errors, errors[0][-2000:]
    assert pending == 0, f"{pending} cells never ran"
    assert charts >= 1, "no chart was drawn"
    assert shot.stat().st_size > 10_000
