"""`invtrack reconcile ofs` end to end against the fake OFS on a real socket:
it reports no difference after a clean sync, reports a seeded difference and
exits 1, keeps every run; `GET /reconciliations` lists the runs newest first
(read scope) and `/metrics` counts them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.cli.main import _parser
from api.cli.poll import run_ofs_poll
from api.settings import Settings, from_env
from tests.fakes.http import serving
from tests.fakes.ofs_server import FakeOfs
from tests.harness.live import live_app, settings_for
from tests.harness.tokens import reader, token
from tests.integration.test_ofs_poller import PAGE_01, PAGE_02
from tests.integration.test_reconcile_ofs import holds_what_the_fixtures_say

GUARD = 60.0


def command(settings: Settings, *argv: str) -> int:
    """`invtrack ARGV...` with these settings (run in a thread: it has its own event loop)."""
    args = _parser().parse_args(list(argv))
    code: int = args.run(settings, args)
    return code


async def test_reconcile_reports_keeps_and_lists_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOfs()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    async with serving(fake) as base_url:
        settings = from_env(
            {
                "INVTRACK_DATABASE_URL": database_url,
                "INVTRACK_OFS_URL": base_url,
                "INVTRACK_OFS_AUTH": "client_credentials",
                "INVTRACK_OFS_CLIENT_ID": fake.client_id,
                "INVTRACK_OFS_INSTANCE": fake.instance,
                "INVTRACK_OFS_CLIENT_SECRET": fake.secret,
            }
        )
        assert await asyncio.wait_for(run_ofs_poll(settings, once=True), GUARD) == 0
        fake.publish_page(PAGE_01)
        fake.publish_page(PAGE_02)
        assert await asyncio.wait_for(run_ofs_poll(settings, once=True), GUARD) == 0
        holds_what_the_fixtures_say(fake)
        capsys.readouterr()

        assert await asyncio.to_thread(command, settings, "reconcile", "ofs", "--all-known") == 0
        printed = capsys.readouterr().out
        assert "1 resource, 1 activity, 3 items compared" in printed
        assert "no differences" in printed

        fake.inventory.change(21259001, quantity=12)
        drifted = ("reconcile", "ofs", "--activity", "4225599", "--json")
        assert await asyncio.to_thread(command, settings, *drifted) == 1
        run = json.loads(capsys.readouterr().out)
        assert run["activities"] == ["4225599"]
        assert run["drifts"] == [
            {"key": "ofs-21259001", "field": "quantity", "ours": "15", "theirs": "12"}
        ]

        assert await asyncio.to_thread(command, settings, "reconcile", "ofs") == 2
        assert "--all-known" in capsys.readouterr().err

    async with live_app(settings_for(database_url, tmp_path)) as live:
        listed = await live.client.get("/reconciliations", headers=reader())
        assert listed.status_code == 200, listed.text
        runs = listed.json()["items"]
        assert [item["id"] for item in runs] == [run["id"], run["id"] - 1]
        assert runs[0] == run
        assert runs[1]["drifts"] == []
        assert runs[1]["resources"] == ["TECH_017"]
        page = await live.client.get("/reconciliations?limit=1", headers=reader())
        assert [item["id"] for item in page.json()["items"]] == [run["id"]]
        rest = await live.client.get(
            "/reconciliations",
            params={"limit": 1, "cursor": page.json()["nextCursor"]},
            headers=reader(),
        )
        assert [item["id"] for item in rest.json()["items"]] == [run["id"] - 1]
        assert rest.json()["nextCursor"] is None

        assert (await live.client.get("/reconciliations")).status_code == 401
        no_scope = {"Authorization": f"Bearer {token('profile')}"}
        assert (await live.client.get("/reconciliations", headers=no_scope)).status_code == 403
        bad = await live.client.get("/reconciliations?cursor=abc", headers=reader())
        assert bad.status_code == 400

        metrics = await live.client.get("/metrics")
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics.text)
            for sample in family.samples
        }
        runs_total = "invtrack_reconciliation_runs_total"
        assert samples[(runs_total, (("outcome", "clean"), ("source", "ofs")))] == 1
        assert samples[(runs_total, (("outcome", "drift"), ("source", "ofs")))] == 1
        assert samples[("invtrack_reconciliation_last_drifted_items", (("source", "ofs"),))] == 1
