"""A scale-out deployment for tests and the benchmark: a Postgres database for Dagster's storage, a Redis
database as the Celery broker and result backend, the webserver, the daemon and Celery workers as real
processes, and a data folder with copies of real files. Everything is made for the occasion and removed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import psycopg
import redis
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from psycopg import sql

from jackpot_pipeline.publish.instance import prepare_dagster_home
from jackpot_pipeline_tests.waiting import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_DSN = os.environ.get("JACKPOT_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
LEAGUES = ("E0", "E1", "SP1", "D1")
SEASONS = ("1819", "1920", "2021", "2122", "2223", "2324")
PARTITIONS = [f"{league}|{season}" for league in LEAGUES for season in SEASONS]  # 24
STAGE_ASSETS = {
    "ingest": ["raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log", "withdrawn_matches"],
    "walk_forward": ["team_strength_snapshots", "uncalibrated_predictions"],
}

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}"""
STOP_SENSOR = """
mutation Stop($id: String!, $selector: String!) {
  stopSensor(id: $id, jobSelectorId: $selector) { __typename }
}"""
SENSOR_STATE = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { id sensorState { id selectorId status } }
  }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_redis_database() -> int:
    """A Redis database number nothing else uses now (the broker and the results of one deployment)."""
    for number in range(15, 1, -1):
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=number)
        if client.dbsize() == 0 and client.set(f"jackpot-scaleout-claim-{number}", "1", nx=True, ex=3600):
            return number
    raise RuntimeError("every Redis database from 2 to 15 is in use")


def rabbitmq_vhost() -> str:
    """A RabbitMQ virtual host of its own (queues of several deployments never mix), guest allowed in."""
    name = f"jpt_{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
    return name


class Deployment:
    def __init__(self, root: Path, shared: Path, *, partitions_per_run: int = 8, leagues=LEAGUES, seasons=SEASONS,
                 broker: str = "redis"):
        self.root = root
        self.name = f"jpt_celery_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.redis_db = free_redis_database()
        self.home, self.data = root / "home", root / "data"
        self.partitions = [f"{league}|{season}" for league in leagues for season in seasons]
        for relpath in (f"mmz4281/{season}/{league}.csv" for league in leagues for season in seasons):
            target = self.data / "raw" / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared / relpath, target)
        backend = f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"
        self.vhost = rabbitmq_vhost() if broker == "rabbitmq" else None
        broker_url = f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}" if self.vhost else backend
        settings = {
            "JACKPOT_INSTANCE": "celery", "JACKPOT_PG_DSN": f"postgresql://postgres@127.0.0.1:5432/{self.name}",
            "JACKPOT_CELERY_BROKER": broker_url, "JACKPOT_CELERY_BACKEND": backend,
            "JACKPOT_PARTITIONS_PER_RUN": str(partitions_per_run),
        }
        prepared = prepare_dagster_home(self.home, settings)
        self.env = {**os.environ, **settings, **prepared.environment, "DAGSTER_HOME": str(self.home),
                    "JACKPOT_DATA_DIR": str(self.data), "JACKPOT_LEAGUES": ",".join(leagues),
                    "JACKPOT_SEASONS": f"{seasons[0]}-{seasons[-1]}"}
        self.env.pop("JACKPOT_PG_ROLE_PREFIX", None)
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.port = free_port()
        # create the storage once, before several processes race to create it
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=self.env, cwd=PROJECT_ROOT, check=True,
                       capture_output=True)

    def exported(self) -> dict[str, str]:
        """The settings a process needs to load this deployment's instance (the caller sets them)."""
        return {k: v for k, v in self.env.items() if k.startswith("JACKPOT_") or k == "DAGSTER_HOME"}

    def instance(self) -> DagsterInstance:
        """The instance (the process must have ``exported()`` in its environment)."""
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("w")
        self.logs.append(log)
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start_services(self, workers: int, *, sensor: bool = True) -> None:
        """The webserver, then (the sensor stopped first if asked) the daemon and the workers."""
        self.start("webserver", [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
                                 "-p", str(self.port)])
        wait_for(self._webserver_up, 180, "the webserver")
        if not sensor:
            self.stop_sensor()
        self.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"])
        for number in range(1, workers + 1):
            self.start_worker(f"worker{number}")

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.start(name, [str(BIN / "celery"), "-A", "jackpot_pipeline.defs.celery", "worker", "-P", "threads",
                                 "-c", "1", "-Q", "dagster", "-n", f"{name}@%h", "--loglevel", "INFO"])

    def _webserver_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def graphql(self, query: str, variables: dict) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(payload["errors"])
        return payload["data"]

    def stop_sensor(self) -> None:
        """The backfill alone does the work here (the sensor would plan the same runs itself)."""
        selector = {"repositoryLocationName": "jackpot_pipeline", "repositoryName": "__repository__",
                    "sensorName": "new_csv_sensor"}
        sensor = wait_for(lambda: self.graphql(SENSOR_STATE, {"selector": selector})["sensorOrError"].get("sensorState"),
                          120, "the sensor's state")
        self.graphql(STOP_SENSOR, {"id": sensor["id"], "selector": sensor["selectorId"]})

    def launch_backfill(self, partitions: list[str], assets: list[str]) -> str:
        with self.instance() as instance:
            missing = [key for key in partitions if not instance.has_dynamic_partition("league_season", key)]
            if missing:
                instance.add_dynamic_partitions("league_season", missing)
        result = self.graphql(LAUNCH_BACKFILL, {"params": {
            "partitionNames": partitions, "assetSelection": [{"path": [asset]} for asset in assets]}})
        launched = result["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        return launched["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        return self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 900) -> str:
        def finished():
            status = self.backfill_status(backfill_id)
            return status if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED") else None
        return wait_for(finished, timeout, f"backfill {backfill_id}")

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)
        for log in self.logs:
            log.close()
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=self.redis_db)
        client.flushdb()
        if self.vhost:
            subprocess.run(["rabbitmqctl", "delete_vhost", self.vhost], capture_output=True, timeout=60)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
