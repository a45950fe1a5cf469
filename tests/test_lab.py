"""JupyterLab as the workbench: ``python -m zoneindex.lab`` (``make lab``) serves the notebooks on 127.0.0.1 and on
the project's kernel, a notebook runs through the server's own kernel API, and a real browser (Debian's
Chromium through chromedriver) opens the score notebook, runs all cells and shows the headline table."""
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from zoneindex import lab, paths

# Chromium here: no sandbox (root), no GPU, and nothing that reaches the (closed) network
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
TOKEN = "zoneindex-test-" + uuid.uuid4().hex


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log: Path, out_root: Path):
        self.url, self.process, self.log, self.out_root = url, process, log, out_root
        self.base = url.split("/lab/")[0]

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.base}{path}?token={TOKEN}", timeout=30) as response:
            return json.loads(response.read())

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"{self.base}{path}?token={TOKEN}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return json.loads(text) if text else None


def start_lab(tmp: Path) -> Server:
    """``python -m zoneindex.lab`` on a free loopback port, with Jupyter's own state and the out-root in ``tmp``."""
    env = {**__import__("os").environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), paths.OUT_ROOT_ENV: str(tmp / "out")}
    # the browser reads every cell's output: keep cells out of view in the page (JupyterLab drops them by default)
    tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}), encoding="utf-8")
    log = tmp / "lab.log"
    process = subprocess.Popen([sys.executable, "-m", "zoneindex.lab", "--port", "0", "--token", TOKEN],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=tmp)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/lab/tree/notebooks\?token=\S+", log.read_text())
        if found:
            server = Server(found[0], process, log, tmp / "out")
            try:
                server.get("/api/status")
                return server
            except (urllib.error.URLError, ConnectionError):
                pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    process.kill()
    raise AssertionError("JupyterLab did not start:\n" + log.read_text()[-3000:])


def stop(server: Server) -> None:
    """Stop the server by its PID (SIGTERM: it shuts its kernels down), and make sure it is gone."""
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_lab(tmp_path_factory.mktemp("lab"))
    yield running
    stop(running)
    assert running.process.returncode is not None


def test_the_url_is_printed_and_the_server_listens_on_loopback_only(server):
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith(f"/lab/tree/notebooks?token={TOKEN}")
    assert "JupyterLab, kernel Python 3 (zoneindex): " + server.url in server.log.read_text()
    assert server.get("/api/status")["kernels"] == 0
    assert "running as root is not recommended" not in server.log.read_text().lower()


def test_the_server_offers_the_project_kernel_and_fetches_nothing_from_outside(server):
    specs = server.get("/api/kernelspecs")
    assert specs["default"] == lab.KERNEL and set(specs["kernelspecs"]) == {lab.KERNEL}
    spec = specs["kernelspecs"][lab.KERNEL]["spec"]
    assert spec["display_name"] == lab.DISPLAY_NAME and Path(spec["argv"][0]) == Path(sys.executable)
    assert server.get("/lab/api/news") == {"news": []}
    assert server.get("/lab/api/update") == {"notification": None}
    notification = server.get("/lab/api/settings/@jupyterlab/apputils-extension:notification")["schema"]
    assert notification["properties"]["fetchNews"]["default"] == "false"
    assert notification["properties"]["checkForUpdates"]["default"] is False
    with urllib.request.urlopen(f"{server.base}/lab?token={TOKEN}", timeout=30) as response:
        page = response.read().decode()
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])
    assert config["news"] == {"disabled": True} and config["fullMathjaxUrl"] == lab.LEGACY_MATHJAX
    assert not re.findall(r"https?://[^\"' )]+", page), "the page names an address outside this machine"


def execute(ws, code: str, timeout: float = 600) -> list[dict]:
    """Run ``code`` on the kernel behind websocket ``ws`` (Jupyter messaging over the server's channels);
    return its iopub outputs; fail on an error."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                        "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id or message.get("channel") != "iopub":
            continue
        kind = message["msg_type"]
        if kind == "error":
            raise AssertionError(f"{message['content']['ename']}: {message['content']['evalue']}\n{code}")
        if kind in ("stream", "execute_result", "display_data"):
            outputs.append(message["content"])
        if kind == "status" and message["content"]["execution_state"] == "idle":
            return outputs
    raise AssertionError(f"no answer within {timeout} s:\n{code}")


def test_a_notebook_runs_through_the_servers_kernel_api(server):
    import websocket

    model = server.get("/api/contents/notebooks/03_score.ipynb")
    nb = nbformat.from_dict(model["content"])
    assert nb.metadata.kernelspec.name == lab.KERNEL
    session = server.call("POST", "/api/sessions", {"path": "notebooks/03_score.ipynb", "type": "notebook",
                                                    "name": "03_score.ipynb", "kernel": {"name": lab.KERNEL}})
    kernel = session["kernel"]
    ws = websocket.create_connection(f"{server.base.replace('http', 'ws')}/api/kernels/{kernel['id']}/channels"
                                     f"?token={TOKEN}", timeout=600)
    try:
        seen = [execute(ws, cell.source) for cell in nb.cells if cell.cell_type == "code"]
        where = execute(ws, "import os, sys; print(sys.executable, os.getcwd(), ctx.out.processed)")
    finally:
        ws.close()
        server.call("DELETE", f"/api/sessions/{session['id']}")
    html = "".join(out.get("data", {}).get("text/html", "") for outputs in seen for out in outputs)
    assert "CDHT Internationalization Index" in html and "world innovation competitiveness" in html
    assert "invariants hold" in "".join(out.get("text", "") for outputs in seen for out in outputs)
    executable, cwd, processed = where[0]["text"].split()
    assert Path(executable) == Path(sys.executable) and Path(cwd) == paths.NOTEBOOKS
    assert Path(processed) == server.out_root / "scratch/cdht/2023/data"  # a scratch run, never an edition
    assert sorted(p.name for p in server.out_root.iterdir()) == [paths.SCRATCH]


def test_a_notebook_saved_from_the_lab_is_saved_clean(server, tmp_path):
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)],
        metadata={"tags": ["parameters"], "scrolled": True})], metadata={"widgets": {"state": {}},
                                                                       "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    model = {"type": "notebook", "content": json.loads(nbformat.writes(executed))}
    lab.strip_before_save(model, "notebooks/x.ipynb")
    cell = model["content"]["cells"][0]
    assert cell["outputs"] == [] and cell["execution_count"] is None and cell["metadata"] == {"tags": ["parameters"]}
    assert model["content"]["metadata"] == {"kernelspec": lab.KERNELSPEC, "language_info": {"name": "python"}}
    elsewhere = {"type": "notebook", "content": json.loads(nbformat.writes(executed))}
    lab.strip_before_save(elsewhere, "scratch/x.ipynb")  # outside notebooks/ a notebook keeps its outputs
    assert elsewhere["content"]["cells"][0]["outputs"]
    assert "--ContentsManager.pre_save_hook=zoneindex.lab.strip_before_save" in lab.server_arguments(1, "t")


def chromium(tmp_path: Path):
    """Debian's Chromium through Debian's chromedriver (scripts/ensure_system_packages.sh installs both)."""
    from selenium import webdriver

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    assert browser and driver, "Chromium and chromedriver are missing: bash scripts/ensure_system_packages.sh"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


def test_a_browser_opens_the_score_notebook_runs_all_cells_and_shows_the_headline_table(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium(tmp_path)
    try:
        browser.get(f"{server.base}/lab/tree/notebooks/03_score.ipynb?reset&token={TOKEN}")
        wait = WebDriverWait(browser, 120)
        wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell")))
        wait.until(lambda b: lab.DISPLAY_NAME in b.find_element(By.CSS_SELECTOR, ".jp-KernelName").text)
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator")
                   .get_attribute("data-status") == "idle")
        browser.find_element(By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Run']").click()
        wait.until(shown.element_to_be_clickable(
            (By.CSS_SELECTOR, "li.lm-Menu-item[data-command='runmenu:run-all']"))).click()
        outputs = "return [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).join('\\n')"
        WebDriverWait(browser, 600).until(lambda b: "invariants hold" in b.execute_script(outputs))  # the last cell
        # textContent: cells scrolled out of view are in the page but not drawn (JupyterLab's windowed notebook)
        tables = [t.get_attribute("textContent")
                  for t in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output table")]
        headline = [t for t in tables if "CDHT Internationalization Index" in t and "world innovation competitiveness" in t]
        assert headline and "2023" in headline[0], tables
        errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type="
                                                        "'application/vnd.jupyter.stderr'] .jp-RenderedText")
        assert not [e for e in (e.get_attribute("textContent") for e in errors) if "Traceback" in e or "Error" in e]
    finally:
        browser.quit()
