"""``jackpot-pipeline trace <jackpot_id> [--fixture N] [--json]``: the lineage of a finalised prediction.

Read from what was recorded, never re-computed:

1. the ``jackpots`` row: card file, its sha256, the run that finalised it (and that run in the Dagster
   instance, with its ``jackpot_predictions`` materialization);
2. per fixture, the ``jackpot_predictions`` row: model version and strength snapshot (league, season,
   as-of date), whose rows in ``team_strength_snapshots`` give the teams and matches used;
3. the ``team_strength_snapshots`` partition materialization in effect when the jackpot was finalised
   (the latest one before it, from the instance): ``training_seasons`` and ``input_data_versions``,
   i.e. the ``canonical_matches`` partitions and data versions the snapshot was fitted on;
4. per input partition, the ``ingestion_log`` entry with that data version: the raw CSV's path and
   sha256 (cross-checked with ``canonical_matches.source_sha256`` and the file now on disk);
5. the calibration map: ``calibration_curves`` row (version, method, scope, training window) and its
   partition's recorded inputs;
6. the ``team_form_features`` and ``league_baselines`` partitions of the fixture's league-season in effect
   then, with the ``canonical_matches`` versions they were computed from.

Anything that cannot be found (a pruned run, a re-materialised partition) is reported as missing with
the reason, never guessed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.jackpots.finalise import read_jackpot
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.sources.fetch import sha256_file
from jackpot_pipeline.warehouse.store import Warehouse

__all__ = ["TraceError", "format_trace", "trace_jackpot"]

_LOOKBACK = 50  # materialization records scanned (forwards from the finalisation time) for the finalising run


class TraceError(LookupError):
    """The jackpot cannot be traced (no warehouse, not finalised, no such fixture)."""


def _metadata_values(materialization) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in (materialization.metadata or {}).items()}


def _materialization(instance: DagsterInstance, asset: str, partition: str, *, run_id: str | None = None,
                     before: float | None = None, after: float | None = None) -> dict[str, Any] | None:
    """The materialization of ``asset[partition]`` by ``run_id`` (searched forwards from ``after``), or the
    latest one before ``before``."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition], before_timestamp=before,
                           after_timestamp=after),
        limit=1 if run_id is None else _LOOKBACK,
        ascending=run_id is not None,
    ).records
    record = next((r for r in records if run_id is None or r.run_id == run_id), None)
    if record is None or record.asset_materialization is None:
        return None
    materialization = record.asset_materialization
    return {
        "asset": asset,
        "partition": partition,
        "run_id": record.run_id,
        "timestamp": dt.datetime.fromtimestamp(record.timestamp, dt.UTC).replace(tzinfo=None),
        "epoch": record.timestamp,
        "data_version": (materialization.tags or {}).get("dagster/data_version"),
        "metadata": _metadata_values(materialization),
    }


def _run(instance: DagsterInstance, run_id: str) -> dict[str, Any] | None:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    stats = instance.get_run_stats(run_id)

    def when(value):
        return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)

    return {
        "run_id": run_id,
        "job_name": run.job_name,
        "status": run.status.value,
        "start_time": when(stats.start_time),
        "end_time": when(stats.end_time),
        "tags": {key: value for key, value in run.tags.items() if key.startswith("jackpot/") or key == "dagster/partition"},
    }


def _input_partitions(recorded: dict[str, str | None], asset: str) -> dict[str, str | None]:
    """{partition: data version} of ``asset`` among a materialization's recorded inputs (keys ``asset[partition]``)."""
    prefix = f"{asset}["
    return {key[len(prefix):-1]: version for key, version in recorded.items() if key.startswith(prefix)}


def _raw_inputs(connection, settings: Settings, input_versions: dict[str, str | None]) -> list[dict[str, Any]]:
    """Each canonical_matches partition the snapshot was fitted on, down to its raw file's sha256."""
    has_log = has_matches = True
    inputs = []
    for partition, data_version in sorted(input_versions.items()):
        league, season = partition.split("|", 1)
        entry: dict[str, Any] = {"partition": partition, "data_version": data_version, "ingestion": None}
        if has_log and data_version is not None:
            logged = connection.execute(
                """SELECT source_path, source_sha256, snapshot_date, ingested_at, run_id, change FROM ingestion_log
                   WHERE league = ? AND season = ? AND data_version = ? ORDER BY ingested_at DESC LIMIT 1""",
                [league, season, data_version],
            ).df()
            if not logged.empty:
                entry["ingestion"] = logged.iloc[0].to_dict()
        if entry["ingestion"] is None:
            entry["problem"] = f"no ingestion_log entry of {partition} with data version {data_version}"
        if has_matches:
            shas = connection.execute(
                "SELECT DISTINCT source_path, source_sha256 FROM canonical_matches WHERE league = ? AND season = ? ORDER BY 1, 2",
                [league, season],
            ).fetchall()
            entry["canonical_matches_sources"] = [{"source_path": p, "source_sha256": s} for p, s in shas]
        if entry["ingestion"] is not None:
            logged_sha = entry["ingestion"]["source_sha256"]
            entry["source_sha256"] = logged_sha
            entry["canonical_matches_agree"] = [s["source_sha256"] for s in entry.get("canonical_matches_sources", [])] == [logged_sha]
            path = settings.raw_dir / entry["ingestion"]["source_path"]
            entry["raw_file"] = {
                "path": str(path),
                "exists": path.is_file(),
                "current_sha256_matches": path.is_file() and sha256_file(path) == logged_sha,
            }
        inputs.append(entry)
    return inputs


def _snapshot(connection, instance: DagsterInstance, settings: Settings, row: pd.Series, before: float | None) -> dict[str, Any]:
    league, season = row["snapshot_league"], row["snapshot_season"]
    as_of = pd.Timestamp(row["snapshot_as_of"])
    entry: dict[str, Any] = {
        "key": f"{league}|{season}@{as_of.date().isoformat()}",
        "league": league,
        "season": season,
        "as_of_date": as_of.date(),
        "model_version": row["model_version"],
    }
    teams = connection.execute(
        """SELECT team, attack, defence, matches_used, is_promoted, converged, iterations, effective_weight
           FROM team_strength_snapshots WHERE league = ? AND season = ? AND as_of_date = ? AND model_version = ?
           ORDER BY team""",
        [league, season, as_of.to_pydatetime(), row["model_version"]],
    ).df()
    entry["in_warehouse"] = not teams.empty
    if teams.empty:
        entry["problem"] = "the snapshot's rows are no longer in team_strength_snapshots (partition re-materialised since)"
    else:
        entry.update({
            "teams": len(teams),
            "training_matches": int(teams["matches_used"].sum()) // 2,
            "converged": bool(teams["converged"].all()),
            "effective_weight": float(teams["effective_weight"].iloc[0]),
        })
    partition = f"{league}|{season}"
    materialization = _materialization(instance, "team_strength_snapshots", partition, before=before)
    entry["materialization"] = materialization and {k: v for k, v in materialization.items() if k != "metadata"}
    if materialization is None:
        entry["inputs"] = []
        entry["problem"] = f"no materialization of team_strength_snapshots[{partition}] before the jackpot in this instance"
        return entry
    metadata = materialization["metadata"]
    entry["training_seasons"] = metadata.get("training_seasons")
    entry["inputs"] = _raw_inputs(connection, settings,
                                  _input_partitions(metadata.get("input_data_versions") or {}, "canonical_matches"))
    return entry


FEATURE_ASSETS = ("team_form_features", "league_baselines")


def _features(instance: DagsterInstance, partition: str, before: float | None) -> dict[str, Any]:
    """The form and baseline partitions of the fixture's league-season in effect when the jackpot was finalised:
    run, data version and the canonical_matches partitions (with data versions) they were computed from."""
    entry: dict[str, Any] = {"key": partition}
    for asset in FEATURE_ASSETS:
        materialization = _materialization(instance, asset, partition, before=before)
        if materialization is None:
            entry[asset] = {"problem": f"no materialization of {asset}[{partition}] before the jackpot in this instance"}
            continue
        entry[asset] = {
            **{k: v for k, v in materialization.items() if k not in ("metadata", "epoch")},
            "rows": materialization["metadata"].get("rows"),
            "inputs": _input_partitions(materialization["metadata"].get("input_data_versions") or {}, "canonical_matches"),
        }
    return entry


def _calibration(connection, instance: DagsterInstance, row: pd.Series, before: float | None) -> dict[str, Any] | None:
    league, season = row["league"], row["season"]
    if row["model_version"] is None or pd.isna(row["model_version"]):
        return None  # no model priced the fixture (market odds or base rates): no calibration either
    if row["calibration_version"] is None or pd.isna(row["calibration_version"]):
        return {
            "key": f"{league}|{season}", "calibration_version": None,
            "problem": "no calibration_curves row when the jackpot was finalised: identity, flagged uncalibrated",
        }
    entry: dict[str, Any] = {"key": f"{league}|{season}", "calibration_version": row["calibration_version"]}
    found = connection.execute(
        """SELECT scope, method, calibration_version, trained_on_start, trained_on_end, cutoff_date, n_train, flags
           FROM calibration_curves WHERE league = ? AND season = ?""",
        [league, season],
    ).df()
    if not found.empty:
        current = found.iloc[0].to_dict()
        for column in ("trained_on_start", "trained_on_end", "cutoff_date"):
            current[column] = None if pd.isna(current[column]) else pd.Timestamp(current[column]).date()
        entry["current_row_matches"] = current["calibration_version"] == row["calibration_version"]
        if entry["current_row_matches"]:
            entry.update({k: v for k, v in current.items() if k != "calibration_version"})
    if not entry.get("current_row_matches"):
        entry["problem"] = "calibration_curves no longer holds this version (re-materialised since)"
    materialization = _materialization(instance, "calibration_curves", f"{league}|{season}", before=before)
    if materialization is not None:
        entry["materialization"] = {k: v for k, v in materialization.items() if k != "metadata"}
        entry["input_data_versions"] = materialization["metadata"].get("input_data_versions")
    return entry


def trace_jackpot(settings: Settings, instance: DagsterInstance, jackpot_id: str, fixture: int | None = None) -> dict[str, Any]:
    """The lineage of a finalised jackpot (or of one fixture) as a JSON-ready dict; see the module docstring."""
    store = Warehouse(settings.warehouse_root)
    if not store.root.is_dir():
        raise TraceError(f"no warehouse at {settings.warehouse_root}")
    stored = read_jackpot(store, jackpot_id)
    predictions = store.read("jackpot_predictions", jackpot_id)
    if stored is None or predictions is None:
        raise TraceError(f"jackpot {jackpot_id!r} has not been finalised in {settings.warehouse_root}")
    with store.connect() as connection:
        rows = predictions[predictions["set_id"] == "B"].sort_values("position")
        if fixture is not None:
            if fixture not in set(rows["position"]):
                raise TraceError(f"jackpot {jackpot_id!r} has fixtures 1 to {stored['n_fixtures']}, not {fixture}")
            rows = rows[rows["position"] == fixture]

        finalised_epoch = pd.Timestamp(stored["finalised_at"]).tz_localize("UTC").timestamp()
        # the finalising run wrote the row just before its materialization event; later no-op re-runs follow it
        finalising = _materialization(instance, "jackpot_predictions", jackpot_id, run_id=stored["run_id"],
                                      after=finalised_epoch - 60)
        # the partitions in effect when the jackpot was finalised: materialised before its own materialization
        before = finalising["epoch"] if finalising else finalised_epoch
        snapshots: dict[str, dict[str, Any]] = {}
        calibrations: dict[str, dict[str, Any]] = {}
        features: dict[str, dict[str, Any]] = {}
        fixtures = []
        for _, row in rows.iterrows():
            entry: dict[str, Any] = {
                "position": int(row["position"]),
                "home_team_card": row["home_team_card"],
                "away_team_card": row["away_team_card"],
                "home_team": row["home_team"],
                "away_team": row["away_team"],
                "league": row["league"],
                "season": row["season"],
                "kickoff": row["kickoff_text"],
                "mode": row["mode"],
                "set_b": {"home": row["prob_home"], "draw": row["prob_draw"], "away": row["prob_away"],
                          "pick": row["pick"], "confidence": row["confidence"]},
                "warnings": [w for w in json.loads(row["warnings"]) if not w.startswith("flag: ")],
                "model_version": row["model_version"],
                "snapshot": None,
                "calibration": None,
                "features": None,
            }
            if isinstance(row["league"], str) and isinstance(row["season"], str):
                feature_key = f"{row['league']}|{row['season']}"
                if feature_key not in features:
                    features[feature_key] = _features(instance, feature_key, before)
                entry["features"] = feature_key
            if row["model_version"] is not None and not pd.isna(row["model_version"]):
                key = f"{row['snapshot_league']}|{row['snapshot_season']}@{pd.Timestamp(row['snapshot_as_of']).date().isoformat()}"
                if key not in snapshots:
                    snapshots[key] = _snapshot(connection, instance, settings, row, before)
                entry["snapshot"] = key
            calibration = _calibration(connection, instance, row, before)
            if calibration is not None:
                reference = f"{calibration['key']}:{calibration['calibration_version'] or 'none'}"
                calibrations.setdefault(reference, calibration)
                entry["calibration"] = reference
            fixtures.append(entry)

    trace = {
        "jackpot": {
            key: stored[key] for key in (
                "jackpot_id", "name", "operator", "owner", "card_path", "card_sha256", "n_fixtures", "status",
                "run_id", "finalised_at", "model_versions", "calibration_versions", "code_version",
            )
        },
        "run": _run(instance, stored["run_id"]),
        "materialization": finalising and {k: v for k, v in finalising.items() if k != "metadata"},
        "fixtures": fixtures,
        "snapshots": snapshots,
        "calibrations": calibrations,
        "features": features,
    }
    return to_jsonable(trace)


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _short(value: str | None, n: int = 12) -> str:
    return "-" if not value else value if len(value) <= n else value[:n]


def format_trace(trace: dict[str, Any]) -> str:
    """Human-readable lineage, one block per fixture (a snapshot or calibration shown once in full)."""
    jackpot = trace["jackpot"]
    run = trace.get("run")
    lines = [
        f"jackpot {jackpot['jackpot_id']}: {jackpot['name']} ({jackpot['n_fixtures']} fixtures, {jackpot['status']})",
        f"  card      {jackpot['card_path']}",
        f"            sha256 {jackpot['card_sha256']}",
        f"  run       {jackpot['run_id']}"
        + (f" ({run['job_name']}, {run['status']}, started {run['start_time']})" if run else " (not in this Dagster instance)"),
        f"  finalised {jackpot['finalised_at']} UTC, code version {jackpot['code_version']}",
    ]
    materialization = trace.get("materialization")
    if materialization:
        lines.append(f"  jackpot_predictions[{jackpot['jackpot_id']}] data version {materialization['data_version']}")
    shown: set[str] = set()
    for fixture in trace["fixtures"]:
        teams = f"{fixture['home_team'] or '?'} v {fixture['away_team'] or '?'}"
        set_b = fixture["set_b"]
        lines += [
            "",
            f"fixture {fixture['position']}: {fixture['home_team_card']} v {fixture['away_team_card']} -> {teams} "
            f"({fixture['league'] or 'league unknown'}{' ' + fixture['season'] if fixture['season'] else ''}, kick-off {fixture['kickoff']}), mode {fixture['mode']}",
            f"  set B  1 {set_b['home']:.3f}  X {set_b['draw']:.3f}  2 {set_b['away']:.3f}  "
            f"(pick {set_b['pick']}, {set_b['confidence']})",
        ]
        lines += [f"  ! {warning}" for warning in fixture["warnings"]]
        key = fixture["snapshot"]
        if key is None:
            lines.append("  model  none (fallback: no strength snapshot used)")
        else:
            snapshot = trace["snapshots"][key]
            lines.append(f"  model  {snapshot['model_version']}  snapshot {snapshot['league']}|{snapshot['season']} "
                         f"as of {snapshot['as_of_date']}")
            if key in shown:
                lines.append("         (fitted on the inputs listed above)")
            else:
                shown.add(key)
                if snapshot.get("in_warehouse"):
                    lines.append(f"         {snapshot['teams']} teams, {snapshot['training_matches']} matches used, "
                                 f"converged {snapshot['converged']}")
                snap_materialization = snapshot.get("materialization")
                if snap_materialization:
                    lines.append(f"         fitted in run {snap_materialization['run_id']} at {snap_materialization['timestamp']} "
                                 f"on seasons {', '.join(snapshot.get('training_seasons') or [])}:")
                for item in snapshot.get("inputs", []):
                    ingestion = item.get("ingestion")
                    if ingestion is None:
                        lines.append(f"           {item['partition']:<9} data version {item['data_version']}  ! {item['problem']}")
                        continue
                    raw = item["raw_file"]
                    disk = "file on disk unchanged" if raw["current_sha256_matches"] else (
                        "file on disk CHANGED since" if raw["exists"] else "file no longer on disk")
                    lines.append(f"           {item['partition']:<9} data version {item['data_version']} <- "
                                 f"{ingestion['source_path']} sha256 {ingestion['source_sha256']}")
                    lines.append(f"           {'':<9} ingested {ingestion['ingested_at']} (run {_short(ingestion['run_id'])}), "
                                 f"{disk}" + ("" if item.get("canonical_matches_agree", True) else
                                              "; canonical_matches now holds another source"))
                if snapshot.get("problem"):
                    lines.append(f"         ! {snapshot['problem']}")
        calibration_key = fixture["calibration"]
        if calibration_key is not None:
            calibration = trace["calibrations"][calibration_key]
            version = calibration.get("calibration_version") or "none"
            if "method" in calibration:
                window = (f"trained on {calibration['trained_on_start'] or '-'} to {calibration['trained_on_end'] or '-'}, "
                          f"cut-off {calibration['cutoff_date']}, n = {calibration['n_train']}")
                lines.append(f"  calibration {version} ({calibration['key']}: {calibration['scope']} "
                             f"{calibration['method']}, {window})")
            else:
                lines.append(f"  calibration {version} ({calibration['key']})")
            if calibration.get("problem"):
                lines.append(f"         ! {calibration['problem']}")
        feature_key = fixture.get("features")
        if feature_key is not None:
            for asset, found in trace["features"][feature_key].items():
                if asset == "key":
                    continue
                if "problem" in found:
                    lines.append(f"  {asset}[{feature_key}]  ! {found['problem']}")
                    continue
                inputs = ", ".join(f"{p} {_short(v)}" for p, v in sorted(found["inputs"].items()))
                lines.append(f"  {asset}[{feature_key}] data version {found['data_version']} "
                             f"(run {_short(found['run_id'])}) from canonical_matches {inputs}")
    return "\n".join(lines)
