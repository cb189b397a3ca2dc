"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run``), so no
browser is downloaded. Screenshots go to ``$JACKPOT_TEST_ARTIFACTS`` (default ``test-artifacts/``, not committed).

The Dagster UI fixtures prepare a small instance with ``jackpot-pipeline run`` (a temporary DAGSTER_HOME and data
dir, two real partitions from the shared files) and serve it with a real webserver and daemon on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from playwright.sync_api import Page, expect

from jackpot_pipeline.publish.instance import prepare_dagster_home

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
UI_LEAGUES, UI_SEASONS = "E0", "2223-2324"
# Settings of the developer's shell that would point the instance elsewhere or switch publishing on.
FOREIGN_SETTINGS = ("JACKPOT_PG_DSN", "JACKPOT_INSTANCE", "JACKPOT_WAREHOUSE_URL", "JACKPOT_PG_ROLE_PREFIX",
                    "JACKPOT_PARTITIONS_PER_RUN", "JACKPOT_CELERY_BROKER", "JACKPOT_CELERY_BACKEND")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # Debian's build runs as root in containers only without its sandbox.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"], "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1200}}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    root = Path(os.environ.get("JACKPOT_TEST_ARTIFACTS") or PROJECT_ROOT / "test-artifacts")
    root.mkdir(parents=True, exist_ok=True)
    return root


class Screenshots:
    """Numbered full-page screenshots of one test: ``<folder>/<test>/<nn>-<step>.png``."""

    def __init__(self, page: Page, folder: Path):
        self.page, self.folder, self.taken = page, folder, []
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.png"):
            stale.unlink()

    def __call__(self, step: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshot(page: Page, artifacts_dir: Path, request: pytest.FixtureRequest) -> Screenshots:
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    return Screenshots(page, artifacts_dir / "browser" / request.node.module.__name__.rsplit(".", 1)[-1] / test_name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first found, then theirs), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@dataclass
class DagsterUI:
    """A prepared instance served by ``dagster dev``: ``url``, the instance's folders and its environment."""

    url: str
    home: Path
    data: Path
    env: dict[str, str]

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGINT first (the webserver and the daemon then stop their code servers and run workers themselves);
    whatever of ours is still alive after ``timeout`` is killed by its pid."""
    started = descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in started + descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _default_sigint() -> None:
    # A process started in the background inherits SIGINT ignored; the servers must stop when asked.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Services:
    """Dagster's processes for one instance, each logging to ``<logs>/<name>.log``; stopped in reverse order."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("w") as log:
            self.processes[name] = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_default_sigint,
            )
        return self.processes[name]

    def wait_until_answering(self, url: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited with {process.returncode}: see {self.logs}/{name}.log"
            assert time.monotonic() < deadline, f"the webserver did not answer {url}/server_info in {timeout:.0f} s"
            time.sleep(1)

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            _stop(process)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory, shared_base_url: str, artifacts_dir: Path):
    """A temporary instance filled by ``jackpot-pipeline run`` over E0 2022/23-2023/24, served by the real
    webserver and daemon (what ``dagster dev`` runs). The webserver starts beside the run, so its start-up overlaps
    the pipeline's; the daemon starts after it, so the sensor finds nothing to do."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home, data = root / "home", root / "data"
    logs = artifacts_dir / "browser" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_SETTINGS}
    env.update(DAGSTER_HOME=str(home), JACKPOT_DATA_DIR=str(data), JACKPOT_LEAGUES=UI_LEAGUES,
               JACKPOT_SEASONS=UI_SEASONS, FOOTBALL_DATA_URL=shared_base_url)
    prepare_dagster_home(home, env)
    # the SQLite storage exists before two processes race to create it
    DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).dispose()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    services = Services(env, logs)
    try:
        services.start("webserver", [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
                                     "-p", str(port)])
        prepared = subprocess.run([str(BIN / "jackpot-pipeline"), "run"], cwd=PROJECT_ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        (logs / "prepare.log").write_text(prepared.stdout)
        assert prepared.returncode == 0, prepared.stdout
        services.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"])
        services.wait_until_answering(url)
        yield DagsterUI(url=url, home=home, data=data, env=env)
    finally:
        services.stop()


@pytest.fixture
def dagster_page(page: Page) -> Page:
    """A page that dismisses the UI's one-time "Join the Dagster community" dialog whenever it shows up."""
    # a loaded machine: the UI may take a while to load the code location and statuses
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    # dispatch_event, not click: when the dialog opens over another one (the launch dialog), that dialog's
    # portal takes the pointer events and a real click never lands
    page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                             lambda: page.get_by_role("button", name="Skip").dispatch_event("click"))
    return page

