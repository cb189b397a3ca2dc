"""What the Dagster UI shows of a small real instance, read in Chromium: every asset group of the code location in
the global asset lineage, a validation report's reliability diagram, and a partition materialised from the asset
page ending in a successful run."""

from __future__ import annotations

import base64
import re
import struct
import urllib.parse

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterRunStatus
from playwright.sync_api import Page, expect

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources.leagues import expand_seasons
from jackpot_pipeline_tests.browser.conftest import UI_LEAGUES, UI_SEASONS, DagsterUI
from jackpot_pipeline_tests.waiting import wait_for

# One server for the module: under xdist (--dist loadgroup) these tests stay on one worker.
pytestmark = pytest.mark.xdist_group("dagster_ui")

PARTITIONED_REPORT = "validation_reports"
DATA_URI = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<uri>data:image/png;base64,(?P<data>[A-Za-z0-9+/=]+))\)")
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def groups_of_code_location(dagster_ui: DagsterUI, monkeypatch) -> dict[str, list[str]]:
    """{group: its asset names} of the Definitions the server loads (same settings, publishing off)."""
    for name in ("JACKPOT_PG_DSN", "JACKPOT_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    definitions = build_definitions(load_settings(dagster_ui.env))
    groups: dict[str, list[str]] = {}
    for spec in definitions.resolve_all_asset_specs():
        groups.setdefault(spec.group_name, []).append(spec.key.to_user_string())
    return {group: sorted(assets) for group, assets in sorted(groups.items())}


def league_season_keys() -> list[str]:
    return [f"{league}|{season}" for league in UI_LEAGUES.split(",") for season in expand_seasons(UI_SEASONS)]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", png[16:24])


def latest_materialization(dagster_ui: DagsterUI, asset: str, partition: str):
    with dagster_ui.instance() as instance:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1, ascending=False
        ).records
    assert records, f"{asset} {partition} was never materialised"
    return records[0]


def test_the_asset_graph_shows_every_asset_group_with_its_assets(dagster_ui, dagster_page: Page, screenshot,
                                                                 monkeypatch):
    expected = groups_of_code_location(dagster_ui, monkeypatch)
    assert {"ingestion", "modeling", "validation", "jackpots"} <= set(expected)
    page = dagster_page
    page.goto(f"{dagster_ui.url}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()

    # the lineage graph opens with one collapsed node per group, all in view
    graph_nodes = {group: page.locator(f'[data-tooltip="{group}"]') for group in expected}
    for group, node in graph_nodes.items():
        expect(node, f"group {group} in the graph").to_be_visible()
    screenshot("asset-graph-groups")

    # the graph's sidebar: exactly these groups, each unfolding into exactly its assets
    sidebar_rows = page.locator("[class*=AssetSidebarNode_itemContainer]")
    group_titles = page.locator("button:has([aria-label=asset_group]) [title]")
    expect(group_titles).to_have_count(len(expected))
    assert sorted(group_titles.evaluate_all("titles => titles.map(t => t.title)")) == list(expected)
    for group in expected:
        sidebar_rows.filter(has=page.locator(f'button:has([aria-label=asset_group]) [title="{group}"]')) \
            .locator("[aria-label=arrow_drop_down]").click()
    expect(sidebar_rows).to_have_count(len(expected) + sum(len(assets) for assets in expected.values()))
    shown: dict[str, list[str]] = {}
    current = None
    for is_group, title in sidebar_rows.evaluate_all(
        "rows => rows.map(r => [!!r.querySelector('[aria-label=asset_group]'), r.querySelector('[title]').title])"
    ):
        if is_group:
            current = shown.setdefault(title, [])
        else:
            current.append(title)
    assert {group: sorted(assets) for group, assets in shown.items()} == expected
    screenshot("asset-graph-groups-unfolded")


def test_a_validation_report_partition_shows_its_reliability_plot(dagster_ui, dagster_page: Page, screenshot):
    with dagster_ui.instance() as instance:
        partitions = instance.get_dynamic_partitions("league_season")
    assert sorted(partitions) == sorted(league_season_keys())
    partition = partitions[-1]
    stored = latest_materialization(dagster_ui, PARTITIONED_REPORT, partition)
    diagram = DATA_URI.fullmatch(stored.asset_materialization.metadata["reliability_diagram"].value)
    assert diagram, "the reliability diagram is not a PNG data URI in Markdown"
    width, height = png_size(base64.b64decode(diagram["data"]))

    page = dagster_page
    page.goto(f"{dagster_ui.url}/assets/{PARTITIONED_REPORT}?view=partitions&partition="
              f"{urllib.parse.quote(partition, safe='')}")
    diagram_row = page.get_by_role("row").filter(has=page.get_by_text("reliability_diagram", exact=True))
    expect(diagram_row).to_be_visible()
    screenshot("partition-page")
    diagram_row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has_text="reliability_diagram")
    plot = dialog.locator("img")
    expect(plot).to_have_count(1)
    natural = plot.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert natural == [width, height] and width > 0 and height > 0
    assert plot.get_attribute("src") == diagram["uri"]
    assert plot.get_attribute("alt") == diagram["alt"] == f"reliability {partition.replace('|', ' ')}"
    box = plot.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, f"the plot is not drawn visibly: {box}"
    screenshot("reliability-plot")


def test_materialising_one_partition_from_the_asset_page_ends_in_a_successful_run(dagster_ui, dagster_page: Page,
                                                                                  screenshot):
    partition = league_season_keys()[0]
    before = latest_materialization(dagster_ui, PARTITIONED_REPORT, partition)
    page = dagster_page
    page.goto(f"{dagster_ui.url}/assets/{PARTITIONED_REPORT}")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {PARTITIONED_REPORT}")
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_role("menuitem").filter(has_text=partition).click()
    page.keyboard.press("Escape")  # closes the partition menu, not the dialog
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    screenshot("launch-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()

    toast = page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))
    expect(toast).to_be_visible()
    short_id = toast.inner_text().split()[-1]
    page.get_by_role("link", name="View", exact=True).and_(page.locator(f'a[href^="/runs/{short_id}"]')).click()
    page.wait_for_url(re.compile(rf"/runs/{short_id}[0-9a-f-]+"))
    run_id = re.search(r"/runs/([0-9a-f-]{36})", page.url)[1]
    screenshot("run-page-launched")

    with dagster_ui.instance() as instance:
        run = wait_for(lambda: (r := instance.get_run_by_id(run_id)) and r.status in FINISHED and r, 300,
                       f"run {run_id} to finish")
    assert run.status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {run.status}"
    assert run.tags.get("dagster/partition") == partition
    assert run.asset_selection == {AssetKey(PARTITIONED_REPORT)}

    header = page.get_by_text(f"partition: {partition}")
    expect(header).to_be_visible()
    expect(page.get_by_text("Success", exact=True)).to_be_visible(timeout=60_000)
    screenshot("run-page-success")

    after = latest_materialization(dagster_ui, PARTITIONED_REPORT, partition)
    assert after.run_id == run_id and after.storage_id > before.storage_id
