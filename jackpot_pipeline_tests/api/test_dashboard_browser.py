"""The dashboard in a real browser (Debian's Chromium through Playwright): a token typed into the page, the sample
card pasted and submitted, then 15 fixtures × 7 sets on screen, the ticket analysis, model health with its
reliability plots and data freshness. Screenshots go to ``artifacts/`` beside this file."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect, sync_playwright

from jackpot_pipeline_tests.api.conftest import ARTIFACTS
from jackpot_pipeline_tests.defs.modeled import card_as

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def test_submit_the_sample_card_and_see_15_fixtures_by_7_sets(api_server):
    token = api_server.token("erin", "analyst")
    jackpot_id = api_server.new_id("browser")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(api_server.url + "/")
                expect(page.locator("#token-state")).to_have_text("no token")
                page.fill("#token", token)
                page.click("#save-token")
                expect(page.locator("#token-state")).to_have_text("token set for this tab")
                # kept for the tab only, never in localStorage or a cookie, and not left in the field
                assert page.evaluate("sessionStorage.getItem('jackpotToken')") == token
                assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
                assert page.input_value("#token") == ""

                expect(page.locator("#health tbody tr.health-row")).to_have_count(5)
                expect(page.locator("#freshness tbody tr.freshness-row")).to_have_count(5)
                assert page.locator("#health svg.reliability").count() == 5

                page.fill("#card", json.dumps(json.loads(card_as(jackpot_id)), indent=2))
                page.click("#submit")
                expect(page.locator("#status")).to_contain_text(
                    f"Card {jackpot_id} finalised: 15 fixtures × 7 sets.", timeout=600_000)
                rows = page.locator("#predictions tbody tr.fixture-row")
                expect(rows).to_have_count(15)
                for index in range(15):
                    cells = rows.nth(index).locator("td.set-cell")
                    expect(cells).to_have_count(7)
                    assert [cells.nth(i).get_attribute("data-set") for i in range(7)] == list("ABCDEFG")
                first = rows.nth(0).locator("td").all_inner_texts()
                assert first[1] == "TSG Hoffenheim v FC Bayern München" and first[2] == "D1"
                expect(page.locator("#tickets tbody tr.ticket-row")).to_have_count(7)
                page.screenshot(path=str(ARTIFACTS / "dashboard_predictions.png"), full_page=True)

                # what the page shows is what the API (and so the warehouse) holds
                with api_server.client(token) as client:
                    predictions = client.get(f"/jackpots/{jackpot_id}/predictions").json()
                entry = predictions["fixtures"][0]["sets"]["B"]
                side = {"H": "home", "D": "draw", "A": "away", "1": "home", "X": "draw", "2": "away"}.get(entry["pick"], entry["pick"])
                shown = rows.nth(0).locator("td.set-cell[data-set='B']").inner_text()
                assert f"{100 * entry['probabilities'][side]:.1f}%" in shown and entry["confidence"] in shown

                # a bad card shows the card module's message with the field
                page.fill("#card", json.dumps({"jackpot_id": jackpot_id + "_x", "name": "x", "fixtures": []}))
                page.click("#submit")
                expect(page.locator("#errors li")).to_have_text(["body.fixtures: the card has no fixtures; a card holds 1 to 20"])
                page.screenshot(path=str(ARTIFACTS / "dashboard_refused_card.png"), full_page=True)
            finally:
                browser.close()
    finally:
        api_server.forget(jackpot_id)
    assert (ARTIFACTS / "dashboard_predictions.png").stat().st_size > 10_000
    assert api_server.leaked() == []
