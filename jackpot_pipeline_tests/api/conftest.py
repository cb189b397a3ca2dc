"""API fixtures: a real uvicorn server on a free port over the process's modeled workspace (the sample card's five
leagues, 2021/22-2023/24, built once per test process by ``make run``'s engine), with its own token store, and a
record of every log line the process emitted while it ran.

The server launches the pipeline for submitted cards itself (no daemon runs in tests), against the workspace's
Dagster instance. Tests submit cards under ids of their own and remove every trace of them afterwards
(:meth:`ApiServer.forget`), so the modeled workspace stays what its setup built for the other test folders.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from jackpot_pipeline.api.access import AccessStore
from jackpot_pipeline.api.app import API_PREFIX, create_app
from jackpot_pipeline_tests.defs.modeled import ModeledWorkspace, card_as, modeled_workspace

ARTIFACTS = Path(__file__).with_name("artifacts")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LogRecorder(logging.Handler):
    """Every formatted log line of the process (root and the libraries that do not propagate)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still a record: keep its raw parts
            self.lines.append(f"{record.name} {record.msg!r} {record.args!r}")

    def holding(self, secret: str) -> list[str]:
        return [line for line in self.lines if secret in line]


@dataclass
class ApiServer:
    url: str
    access: AccessStore
    workspace: ModeledWorkspace
    app: object
    logs: LogRecorder
    issued: list[str] = field(default_factory=list)  # every token issued in the tests: none may reach a log line

    def token(self, subject: str, role: str, **kwargs) -> str:
        token = self.access.issue(subject, role, **kwargs).token
        self.issued.append(token)
        return token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=60.0)

    @property
    def link(self):
        return self.app.state.link

    def new_id(self, label: str) -> str:
        return f"api_{label}_{uuid.uuid4().hex[:8]}"

    def submit_sample(self, client: httpx.Client, jackpot_id: str) -> httpx.Response:
        return client.post("/jackpots", content=card_as(jackpot_id), headers={"Content-Type": "application/json"})

    def wait_finalised(self, client: httpx.Client, jackpot_id: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = client.get(f"/jackpots/{jackpot_id}").json()
            if status["status"] != "pending":
                return status
            time.sleep(0.5)
        raise AssertionError(f"{jackpot_id} still pending after {timeout} s")

    def forget(self, jackpot_id: str) -> None:
        self.link.wait(timeout=600)
        (self.workspace.cards / f"{jackpot_id}.json").unlink(missing_ok=True)
        self.workspace.forget_jackpot(jackpot_id)

    def leaked(self) -> list[str]:
        return [line for token in self.issued for line in self.logs.holding(token)]


@pytest.fixture(scope="session")
def modeled(request, tmp_path_factory, shared_data) -> ModeledWorkspace:
    return modeled_workspace(request.config, tmp_path_factory, shared_data)


@pytest.fixture(scope="session")
def api_server(modeled: ModeledWorkspace, tmp_path_factory) -> Iterator[ApiServer]:
    recorder = LogRecorder()
    watched = [logging.getLogger(), *(logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access",
                                                                             "jackpot_pipeline", "fastapi", "httpx"))]
    levels = {logger.name: logger.level for logger in watched}
    for logger in watched:
        logger.addHandler(recorder)
        if logger.name != "root":
            logger.setLevel(logging.DEBUG)
    access = AccessStore(tmp_path_factory.mktemp("api_access") / "access.sqlite3")
    app = create_app(modeled.settings, access=access, instance_factory=lambda: modeled.instance, launch="auto")
    port = free_port()
    # log_config=None: uvicorn's own loggers keep propagating, so the recorder sees its access and error lines
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="debug",
                                           access_log=True))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield ApiServer(f"http://127.0.0.1:{port}", access, modeled, app, recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.state.link.close()
        for logger in watched:
            logger.removeHandler(recorder)
            logger.setLevel(levels[logger.name])
