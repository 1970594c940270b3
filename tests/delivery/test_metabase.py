"""The Metabase dashboard: its definition is valid, every card's SQL runs on a (tiny, hand-made) warehouse with the
numbers worked out by hand, and the importer talks to Metabase's API correctly (a fake server on 127.0.0.1)."""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import duckdb
import pytest

from delivery import metabase

DEFINITION = metabase.load_definition()
CARDS = {card["key"]: card for card in DEFINITION["cards"]}


# ------------------------------------------------------------------------------------------------------ definition

def _tiny(*cards):
    return {"name": "t", "cards": [
        {"key": key, "name": key, "display": display, "sql": "select 1", "layout": dict(zip(
            ("row", "col", "size_x", "size_y"), box))} for key, display, box in cards]}


def test_the_shipped_definition_is_valid():
    assert DEFINITION["name"] == "AI spend overview" and DEFINITION["description"]
    assert len(CARDS) == len(DEFINITION["cards"]) >= 8
    assert {card["display"] for card in CARDS.values()} <= metabase.DISPLAYS
    for card in CARDS.values():
        assert card["description"] and "marts." in card["sql"], card["key"]
        assert card["layout"]["col"] + card["layout"]["size_x"] <= 24


@pytest.mark.parametrize("cards, message", [
    ([("a", "bar", (0, 0, 12, 4)), ("b", "line", (3, 6, 12, 4))], "'b' overlaps card 'a' at row 3, col 6"),
    ([("a", "bar", (0, 0, 12, 4)), ("b", "gauge", (4, 0, 12, 4))], "display 'gauge' is not one of"),
    ([("a", "bar", (0, 18, 8, 4))], "does not fit the 24-column grid"),
    ([("a", "bar", (0, 0, 6, 4)), ("a", "bar", (0, 6, 6, 4))], "card 'a': its key or name is used twice"),
])
def test_a_bad_definition_is_rejected_with_a_clear_message(cards, message):
    metabase.validate_definition(_tiny(("ok", "scalar", (10, 0, 6, 4))))  # the helper itself makes a valid one
    with pytest.raises(metabase.DefinitionError, match=re.escape(message)):
        metabase.validate_definition(_tiny(*cards))


def test_an_unreadable_definition_file_names_the_file(tmp_path):
    bad = tmp_path / "dash.json"
    bad.write_text("{not json")
    with pytest.raises(metabase.DefinitionError, match="dash.json"):
        metabase.load_definition(bad)


# -------------------------------------------------------------------------------------- the SQL on a tiny warehouse

SCHEMA = """
create schema marts;
create table marts.fct_team_spend_daily (usage_date date, team_name varchar, billed_cost_usd decimal(38,9));
create table marts.fct_allocation_coverage_daily (usage_date date, provider varchar, billed_cost_usd decimal(38,9),
    allocated_billed_cost_usd decimal(38,9), unallocated_billed_cost_usd decimal(38,9),
    person_billed_cost_usd decimal(38,9));
create table marts.fct_ai_usage_daily (usage_date date, provider varchar, model_ref varchar, token_type varchar,
    use_case varchar, principal_type varchar, person_name varchar, team_name varchar, token_count hugeint,
    unpriced_token_count hugeint, billed_cost_usd decimal(38,9));
create table marts.dim_models (provider varchar, model_ref varchar, is_priced boolean, model_family varchar,
    model_tier varchar);
create table marts.fct_unit_economics (team_id varchar, period_type varchar, period_start date,
    is_suppressed boolean, ai_cost_usd decimal(38,9), prs_merged hugeint, cost_per_pr double);
create table marts.dim_teams (team_id varchar, team_name varchar);

-- newest day 2026-03-31: 'last 30 days' is 2026-03-02..03-31, 'last 90 days' 2026-01-01..03-31
insert into marts.fct_team_spend_daily values
    ('2026-03-31', 'Payments', 100.00), ('2026-03-31', 'Search', 40.50), ('2026-03-02', 'Payments', 10.25),
    ('2026-03-15', 'Unallocated', 2.24),
    ('2026-03-01', 'Payments', 1000.00),   -- 31 days back: not in the last 30 days, in the last 90
    ('2025-12-31', 'Search', 7.00);        -- 91 days back: in neither
insert into marts.fct_allocation_coverage_daily values
    ('2026-03-31', 'anthropic', 100, 90, 10, 60), ('2026-03-31', 'openai', 50, 50, 0, 50),
    ('2026-03-01', 'anthropic', 1000, 0, 1000, 0);
insert into marts.fct_ai_usage_daily values
    ('2026-03-31', 'anthropic', 'claude-x', 'output', 'agent', 'person', 'Ben', 'Search', 1000, 0, 50.00),
    ('2026-03-31', 'anthropic', 'claude-x', 'input', 'chat', 'person', 'Ana', 'Payments', 2000, 0, 30.00),
    ('2026-03-10', 'openai', 'gpt-y', 'input', 'chat', 'person', 'Ana', 'Payments', 500, 0, 5.00),
    ('2026-03-20', 'anthropic', 'claude-x', 'input', 'api', 'person', 'Cleo', 'Search', 100, 0, 20.00),
    ('2026-03-01', 'anthropic', 'claude-x', 'input', 'api', 'person', 'Cleo', 'Search', 9999, 0, 500.00),
    ('2026-03-31', 'anthropic', '(none)', 'other', 'api', 'service', null, 'Platform', 0, 0, 999.00),
    ('2026-03-15', 'anthropic', 'mystery-model', 'input', 'api', 'person', 'Dan', 'Growth', 300, 300, 0.50);
insert into marts.fct_ai_usage_daily
    select '2026-03-30', 'openai', 'gpt-y', 'input', 'chat', 'person', 'Filler ' || lpad(i::varchar, 2, '0'),
           'Growth', 10, 0, 1.00
    from range(1, 10) t(i);
insert into marts.dim_models values
    ('anthropic', 'claude-x', true, 'Claude', 'premium'), ('openai', 'gpt-y', true, 'GPT', 'economy'),
    ('anthropic', 'mystery-model', false, 'unclassified', 'unclassified');
insert into marts.fct_unit_economics values
    ('(all teams)', 'month', '2026-02-01', false, 400, 20, 20.0),
    ('payments', 'month', '2026-02-01', false, 300, 6, 50.0),
    ('payments', 'week', '2026-02-02', false, 80, 2, 40.0),
    ('tiny', 'month', '2026-02-01', true, null, null, null),
    ('unallocated', 'month', '2026-02-01', false, 100, 0, null);
insert into marts.dim_teams values ('payments', 'Payments'), ('search', 'Search'), ('unallocated', 'Unallocated');
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("mb") / "tiny.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(SCHEMA)
    return path


def _run(path, key):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(CARDS[key]["sql"]).fetchall()


def test_every_card_runs_on_the_warehouse(warehouse):
    counts = metabase.check_warehouse(warehouse)
    assert set(counts) == set(CARDS)
    assert counts["spend_by_team_daily"] == 5  # 6 team-days, one of them 91 days back
    assert counts["spend_by_use_case_token_type"] == 4  # (agent, output), (chat, input), (api, input), (api, other)


def test_the_card_figures(warehouse):
    # 100.00 + 40.50 + 10.25 + 2.24 (the 1000.00 on 2026-03-01 is 31 days back)
    assert _run(warehouse, "spend_last_30_days") == [(Decimal("152.99"),)]

    # Ben 50; Ana 30 + 5; Cleo 20 (her 500 is 31 days back); then the 1.00 fillers by name; Dan's 0.50 and the
    # service key's 999 are out
    top = _run(warehouse, "top_developers_last_30_days")
    assert [(name, team, float(spend)) for name, team, spend, _ in top[:3]] == [
        ("Ben", "Search", 50.0), ("Ana", "Payments", 35.0), ("Cleo", "Search", 20.0)]
    assert [row[0] for row in top[3:]] == [f"Filler 0{i}" for i in range(1, 8)]

    # Claude/premium 50 + 30 + 20; GPT/economy 5 + 9 x 1.00; the code execution row has no model
    assert [(family, tier, float(spend)) for family, tier, spend in _run(warehouse, "spend_by_model_family_tier")] == [
        ("Not model-specific", "n/a", 999.0), ("Claude", "premium", 100.0), ("GPT", "economy", 14.0),
        ("unclassified", "unclassified", 0.5)]

    # anthropic: 90 of 100 allocated, 60 to a person; openai all of 50
    coverage = {row[0]: (float(row[4]), float(row[5])) for row in _run(warehouse, "allocation_coverage_by_provider")}
    assert coverage == {"anthropic": (0.9, 0.6), "openai": (1.0, 1.0)}

    # months only, the suppressed team and the team without a merged PR left out
    assert [(str(month), team, cost) for month, team, cost, *_ in _run(warehouse, "cost_per_pr_monthly")] == [
        ("2026-02-01", "(all teams)", 20.0), ("2026-02-01", "Payments", 50.0)]

    unpriced = _run(warehouse, "unpriced_tokens_by_model")
    assert [(provider, model, int(tokens)) for provider, model, tokens, *_ in unpriced] == [
        ("anthropic", "mystery-model", 300)]


def test_a_failing_card_is_named():
    definition = _tiny(("broken", "table", (0, 0, 6, 4)))
    definition["cards"][0]["sql"] = "select * from marts.nowhere"
    with duckdb.connect() as con, pytest.raises(RuntimeError, match="card 'broken'.*nowhere"):
        metabase.check_cards(lambda sql: con.execute(sql).fetchall(), definition)


# --------------------------------------------------------------------------------------- the importer, fake server

USER, PASSWORD, API_KEY, TOKEN = "finops@example.com", "s3cret-Pa55word!", "mb_api_key_0123", "session-abc"


class FakeMetabase(BaseHTTPRequestHandler):
    """Just enough of Metabase's API; every request is recorded on the server object."""

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        server, url = self.server, urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        server.requests.append({"method": self.command, "path": url.path, "url": self.path, "body": copy.deepcopy(body),
                                "headers": dict(self.headers)})
        route = (self.command, url.path)
        if route in server.fail:
            return self._answer(*server.fail[route])
        if route == ("POST", "/api/session"):
            if body == {"username": USER, "password": PASSWORD}:
                return self._answer(200, {"id": TOKEN})
            return self._answer(401, {"errors": {"password": "did not match stored password"}})
        if self.headers.get("X-Metabase-Session") != TOKEN and self.headers.get("x-api-key") != API_KEY:
            return self._answer(401, "Unauthenticated")
        if route == ("GET", "/api/database"):
            databases = [{"id": 1, "name": "Sample Database"}, {"id": 7, "name": "AI FinOps"}]
            return self._answer(200, databases if server.database_list else {"data": databases, "total": 2})
        if route == ("GET", "/api/card"):
            return self._answer(200, list(server.cards.values()))
        if route == ("POST", "/api/card"):
            card = {**body, "id": 100 + len(server.cards)}
            server.cards[card["id"]] = card
            return self._answer(200, card)
        if route == ("GET", "/api/dashboard/"):
            return self._answer(200, [{k: v for k, v in d.items() if k != "dashcards"}
                                      for d in server.dashboards.values()])
        if route == ("POST", "/api/dashboard"):
            dashboard = {**body, "id": 10 + len(server.dashboards), "dashcards": []}
            server.dashboards[dashboard["id"]] = dashboard
            return self._answer(200, dashboard)
        match = re.fullmatch(r"/api/(card|dashboard)/(\d+)", url.path)
        store = match and (server.cards if match[1] == "card" else server.dashboards)
        if not match or int(match[2]) not in store:
            return self._answer(404, "API endpoint does not exist.")
        item = store[int(match[2])]
        if self.command == "PUT" and match[1] == "card":
            item.update(body)
        elif self.command == "PUT":
            dashcards = []
            for dashcard in body.pop("dashcards"):
                if dashcard["id"] < 0:
                    server.next_dashcard += 1
                    dashcard = {**dashcard, "id": server.next_dashcard}
                dashcards.append(dashcard)
            item.update(body, dashcards=dashcards)
        return self._answer(200, item)

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeMetabase)
    httpd.requests, httpd.fail, httpd.database_list, httpd.next_dashcard = [], {}, False, 500
    # a card of the same name in another collection (the root) must be left alone
    httpd.cards = {99: {"id": 99, "name": CARDS["spend_last_30_days"]["name"], "collection_id": None}}
    httpd.dashboards = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _count(server, method, path, since=0):
    return sum(1 for r in server.requests[since:] if r["method"] == method and r["path"] == path)


def test_import_creates_then_updates_without_duplicates(server, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's request lines too
    args = ["--url", server.url + "/", "--database-name", "AI FinOps", "--collection-id", "5"]
    login = {"METABASE_USERNAME": USER, "METABASE_PASSWORD": PASSWORD}
    assert metabase.main(args, env=login) == 0

    # the password goes to /api/session only, in the body, and nowhere else
    session = [r for r in server.requests if r["path"] == "/api/session"]
    assert len(session) == 1 and session[0]["body"] == {"username": USER, "password": PASSWORD}
    for request in server.requests:
        assert PASSWORD not in request["url"] and PASSWORD not in json.dumps(request["headers"])
        if request["path"] != "/api/session":
            assert PASSWORD not in json.dumps(request["body"])
            assert request["headers"].get("X-Metabase-Session") == TOKEN
    output = capsys.readouterr()
    assert PASSWORD not in output.out + output.err + caplog.text
    assert "/dashboard/10" in output.out

    # one native question per card, on database 7, in collection 5
    created = [r["body"] for r in server.requests if (r["method"], r["path"]) == ("POST", "/api/card")]
    assert [c["name"] for c in created] == [card["name"] for card in DEFINITION["cards"]]
    for body, card in zip(created, DEFINITION["cards"]):
        assert body["dataset_query"] == {"type": "native", "database": 7, "native": {"query": card["sql"]}}
        assert (body["display"], body["collection_id"]) == (card["display"], 5)
        assert body["visualization_settings"] == card.get("visualization_settings", {})
    assert server.cards[99] == {"id": 99, "name": CARDS["spend_last_30_days"]["name"], "collection_id": None}

    # one dashboard, one new dashcard per card at the definition's layout
    assert _count(server, "POST", "/api/dashboard") == 1
    put = [r["body"] for r in server.requests if (r["method"], r["path"]) == ("PUT", "/api/dashboard/10")]
    assert len(put) == 1 and put[0]["name"] == "AI spend overview"
    dashcards = put[0]["dashcards"]
    assert [d["id"] for d in dashcards] == list(range(-1, -len(CARDS) - 1, -1))
    card_id = {c["name"]: i for i, c in server.cards.items() if c.get("collection_id") == 5}
    for dashcard, card in zip(dashcards, DEFINITION["cards"]):
        assert dashcard["card_id"] == card_id[card["name"]]
        assert {k: dashcard[k] for k in ("row", "col", "size_x", "size_y")} == card["layout"]
        assert dashcard["parameter_mappings"] == []

    # second run, with an API key and a plain-list /api/database: everything updated in place
    first = len(server.requests)
    server.database_list = True
    assert metabase.main(args, env={"METABASE_API_KEY": API_KEY}) == 0
    assert _count(server, "POST", "/api/session", first) == 0
    assert all(r["headers"].get("x-api-key") == API_KEY for r in server.requests[first:])
    assert API_KEY not in capsys.readouterr().out + caplog.text
    assert _count(server, "POST", "/api/card", first) == 0
    assert sum(1 for r in server.requests[first:] if r["method"] == "PUT" and r["path"].startswith("/api/card/")) \
        == len(CARDS)
    assert _count(server, "POST", "/api/dashboard", first) == 0
    assert len(server.cards) == len(CARDS) + 1 and len(server.dashboards) == 1
    again = [r["body"] for r in server.requests[first:] if r["method"] == "PUT" and r["path"] == "/api/dashboard/10"]
    assert [d["id"] for d in again[0]["dashcards"]] == [d["id"] for d in server.dashboards[10]["dashcards"]]
    assert all(d["id"] > 0 for d in again[0]["dashcards"])  # the existing dashcards, not new ones


def test_an_api_error_names_the_endpoint_and_status(server):
    server.fail[("POST", "/api/card")] = (500, {"message": "Card creation exploded"})
    mb = metabase.Metabase(server.url)
    mb.login({"METABASE_API_KEY": API_KEY})
    with pytest.raises(metabase.MetabaseError, match=r"POST /api/card failed: HTTP 500: Card creation exploded"):
        metabase.import_dashboard(mb, copy.deepcopy(DEFINITION), database_id=7)


def test_a_wrong_password_fails_cleanly_without_echoing_it(server, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    env = {"METABASE_USERNAME": USER, "METABASE_PASSWORD": "wrong-" + PASSWORD}
    assert metabase.main(["--url", server.url, "--database-id", "7"], env=env) == 1
    assert "POST /api/session failed: HTTP 401" in caplog.text
    assert PASSWORD not in caplog.text + "".join(capsys.readouterr())
    assert [r["path"] for r in server.requests] == ["/api/session"]


def test_no_credentials_and_an_unknown_database(server):
    with pytest.raises(metabase.MetabaseError, match="METABASE_API_KEY"):
        metabase.Metabase(server.url).login({})
    mb = metabase.Metabase(server.url)
    mb.login({"METABASE_API_KEY": API_KEY})
    with pytest.raises(metabase.MetabaseError, match="no database named 'Nope'.*AI FinOps"):
        metabase.database_id_by_name(mb, "Nope")
