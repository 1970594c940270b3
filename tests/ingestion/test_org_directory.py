from __future__ import annotations

import hashlib
import json
import logging
import os
import re

import pytest
import yaml

from ingestion.demo.org import build_demo_org
from ingestion.org_directory import OrgDirectoryError, load_org_directory, parse_org_directory

VALID = {
    "teams": [{"id": "platform", "name": "Platform"}, {"id": "payments", "name": "Payments"}],
    "projects": [{"id": "checkout", "team": "payments"}],
    "people": [{"email": "Ana.Silva@Example.com", "name": "Ana", "team": "platform", "identities": {"openai": "user-1"}}],
    "provider_accounts": [
        {"provider": "anthropic", "kind": "api_key", "id": "apikey_1", "person": "ana.silva@example.com",
         "environment": "dev"},
        {"provider": "openai", "kind": "project", "id": "proj_1", "project": "checkout", "environment": "prod"},
    ],
}


@pytest.fixture(autouse=True)
def parsed_copies(tmp_path, monkeypatch):
    """Each test keeps the YAML's parsed copies in a folder of its own: they are kept by content, across processes."""
    monkeypatch.setenv("FINOPS_PIPELINES_DIR", str(tmp_path / "pipelines"))
    return tmp_path / "pipelines" / "org_directory_parsed"


def test_a_valid_directory_parses_and_normalises_emails():
    org = parse_org_directory(VALID)
    assert [p.email for p in org.people] == ["ana.silva@example.com"]
    assert org.accounts("openai", "project")[0].project == "checkout"
    assert org.accounts("anthropic", "api_key")[0].person == "ana.silva@example.com"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["projects"].append({"id": "x", "team": "nope"}), "refers to unknown team 'nope'"),
        (lambda d: d["people"].append(dict(d["people"][0])), "duplicate person email 'ana.silva@example.com'"),
        (lambda d: d["provider_accounts"].append({"provider": "openai", "kind": "workspace", "id": "w"}),
         "kind must be one of ['api_key', 'project']"),
        (lambda d: d["provider_accounts"].append({"provider": "anthropic", "kind": "api_key", "id": "k2",
                                                  "person": "bob@example.com"}), "unknown person 'bob@example.com'"),
        (lambda d: d["provider_accounts"].append({"provider": "anthropic", "kind": "api_key", "id": "k3",
                                                  "environment": "production"}), "environment must be one of"),
        (lambda d: d["people"].append({"email": "b@x.com", "team": "platform", "identities": {"openai": "user-1"}}),
         "identity openai=user-1 is claimed by both"),
        (lambda d: d["teams"].append({"name": "No id"}), "teams[2] is missing 'id'"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "seats", "provider": "copilot", "usd_per_month": 19}),
         "seats are charged per seat holder, which the warehouse knows for ['cursor'] only"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": "12,5"}),
         "usd_per_month must be a number, not '12,5'"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": 10, "split": "weights"}),
         "split 'weights' needs weights per team"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": 10, "split": "by_headcount"}),
         "split must be one of ['even', 'proportional', 'weights']"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": 10, "weights": {"nope": 1}}),
         "weights refer to unknown team 'nope'"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": -1}),
         "usd_per_month must be a non-negative amount"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "seats", "provider": "cursor", "usd_per_month": 40, "split": "even"}),
         "split applies to shared costs only"),
        (lambda d: d.setdefault("fixed_costs", []).append(
            {"id": "x", "kind": "shared", "provider": "gw", "usd_per_month": 1, "valid_from": "2026-02-01",
             "valid_to": "2026-01-01"}), "valid_to must be after valid_from"),
    ],
)
def test_mistakes_are_named_precisely(mutate, message):
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    mutate(doc)
    with pytest.raises(OrgDirectoryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_org_directory(doc, source="org.yml")


def test_the_shipped_demo_directory_is_what_the_generator_builds():
    """config/demo/org_directory.yml must not drift from `python -m ingestion.demo.org` (regenerate it if it does)."""
    from ingestion.org_directory import DEMO_ORG_DIRECTORY

    shipped = yaml.safe_load(DEMO_ORG_DIRECTORY.read_text())
    assert shipped == build_demo_org(50, 7)
    org = load_org_directory(DEMO_ORG_DIRECTORY)
    assert len(org.people) == 50
    assert len(org.teams) == 6


def test_fixed_costs_parse_with_exact_amounts_and_default_split():
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    doc["fixed_costs"] = [
        {"id": "seats", "kind": "seats", "provider": "cursor", "usd_per_month": 40},
        {"id": "gw", "name": "Gateway", "kind": "shared", "provider": "gateway", "usd_per_month": "620.10",
         "valid_from": "2026-01-01"},
        {"id": "vdb", "kind": "shared", "provider": "vdb", "usd_per_month": 450, "split": "weights",
         "weights": {"platform": 1, "payments": 2.5}},
    ]
    costs = {c.id: c for c in parse_org_directory(doc).fixed_costs}
    assert (costs["seats"].kind, costs["seats"].split, costs["seats"].usd_per_month) == ("seats", None, "40")
    assert (costs["gw"].split, costs["gw"].usd_per_month, costs["gw"].valid_from) == ("even", "620.10", "2026-01-01")
    assert costs["vdb"].weights == (("platform", "1"), ("payments", "2.5"))


def test_missing_file_says_where_to_point(tmp_path):
    with pytest.raises(OrgDirectoryError, match="FINOPS_ORG_DIRECTORY"):
        load_org_directory(tmp_path / "nope.yml")


def test_the_yaml_is_parsed_with_the_collector_paused_and_it_comes_back_even_after_bad_yaml(tmp_path, monkeypatch):
    """A large directory is ~300k objects at once, none in a cycle: the collections they would trigger walk the whole
    heap of a Dagster run (~3x the parse's time at 10,000 people), so the parse runs with it off, and only then."""
    import gc

    import ingestion.org_directory as org_directory

    seen = []
    load = yaml.load
    monkeypatch.setattr(org_directory.yaml, "load", lambda *a, **k: seen.append(gc.isenabled()) or load(*a, **k))
    path = tmp_path / "org.yml"
    path.write_text(yaml.safe_dump(VALID))
    assert gc.isenabled()
    assert [p.email for p in load_org_directory(path).people] == ["ana.silva@example.com"]
    assert seen == [False] and gc.isenabled()
    path.write_text("teams: [")
    with pytest.raises(OrgDirectoryError, match="not valid YAML"):
        load_org_directory(path)
    assert seen == [False, False] and gc.isenabled()
    # a caller that has the collector off keeps it off
    gc.disable()
    try:
        path.write_text(yaml.safe_dump(VALID).replace("Platform", "Core"))
        assert [t.name for t in load_org_directory(path).teams] == ["Core", "Payments"]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_unchanged_file_is_parsed_once_and_an_edited_one_again(tmp_path, monkeypatch):
    import ingestion.org_directory as org_directory

    parsed = []
    parse = org_directory.parse_org_directory
    monkeypatch.setattr(org_directory, "parse_org_directory", lambda raw, source: parsed.append(source) or parse(raw, source))
    path = tmp_path / "org.yml"
    path.write_text(yaml.safe_dump(VALID))
    first, second = load_org_directory(path), load_org_directory(path)
    assert second is first and len(parsed) == 1
    # the same size, and on a coarse clock the same modification time: only the content tells the two files apart
    edited = yaml.safe_dump(VALID).replace("Platform", "Platfxrm")
    path.write_text(edited)
    assert [t.name for t in load_org_directory(path).teams] == ["Platfxrm", "Payments"]
    assert len(parsed) == 2
    path.write_text("teams: [")
    with pytest.raises(OrgDirectoryError, match="not valid YAML"):
        load_org_directory(path)


def test_a_second_file_read_in_between_does_not_make_the_first_parse_again(tmp_path, monkeypatch):
    """Loading Dagster's definitions reads the demo directory besides yours; the run's sources then read yours."""
    import ingestion.org_directory as org_directory

    parsed = []
    parse = org_directory.parse_org_directory
    monkeypatch.setattr(org_directory, "parse_org_directory", lambda raw, source: parsed.append(source) or parse(raw, source))
    monkeypatch.setattr(org_directory, "_PARSED", {})
    files = []
    for i in range(5):  # one more than the cache keeps
        files.append(tmp_path / f"org{i}.yml")
        files[-1].write_text(yaml.safe_dump(VALID).replace("Platform", f"Platform {i}"))
    yours, demo = load_org_directory(files[0]), load_org_directory(files[1])
    assert load_org_directory(files[0]) is yours and load_org_directory(files[1]) is demo
    assert parsed == [str(files[0]), str(files[1])]
    # four files kept, the least recently used goes: reading files 2..4 drops file 1 (file 0 was read after it)
    assert load_org_directory(files[0]) is yours
    for path in files[2:]:
        load_org_directory(path)
    assert load_org_directory(files[0]) is yours
    assert load_org_directory(files[1]) is not demo
    assert parsed == [str(f) for f in files[:2] + files[2:] + files[1:2]]
    assert [t.name for t in load_org_directory(files[1]).teams][0] == "Platform 1"


def _with_budgets(*budgets):
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    doc["projects"].append({"id": "console", "team": "platform"})
    doc["budgets"] = list(budgets)
    return doc


def test_budgets_parse_with_exact_amounts_months_and_ids():
    import datetime as dt

    org = parse_org_directory(_with_budgets(
        {"team": "payments", "usd_per_month": "5000.50"},
        {"team": "payments", "project": "checkout", "usd_per_month": 1200, "valid_from": "2026-01",
         "valid_to": "2026-06"},
        # the same project again from July: the months do not overlap; a date on the first of a month is a month
        {"team": "payments", "project": "checkout", "usd_per_month": 1500, "valid_from": dt.date(2026, 7, 1)},
    ))
    assert [(b.id, b.team, b.project, b.usd_per_month, b.valid_from, b.valid_to) for b in org.budgets] == [
        ("payments", "payments", None, "5000.50", None, None),
        ("payments/checkout@2026-01", "payments", "checkout", "1200", "2026-01-01", "2026-06-01"),
        ("payments/checkout@2026-07", "payments", "checkout", "1500", "2026-07-01", None),
    ]


@pytest.mark.parametrize(
    "budget, message",
    [
        ({"team": "nope", "usd_per_month": 10}, "budgets[1] (nope) refers to unknown team 'nope'"),
        ({"usd_per_month": 10}, "budgets[1] (?) is missing 'team'"),
        ({"team": "payments", "project": "nope", "usd_per_month": 10},
         "budgets[1] (payments/nope) refers to unknown project 'nope'"),
        ({"team": "payments", "project": "console", "usd_per_month": 10},
         "budgets[1] (payments/console): project 'console' belongs to team 'platform', not 'payments'"),
        ({"team": "payments", "usd_per_month": -100},
         "budgets[1] (payments): usd_per_month must be a positive amount, not -100"),
        ({"team": "payments", "usd_per_month": 0}, "usd_per_month must be a positive amount, not 0"),
        ({"team": "payments", "usd_per_month": "5k"}, "budgets[1] (payments): usd_per_month must be a number, not '5k'"),
        ({"team": "payments"}, "budgets[1] (payments) is missing 'usd_per_month'"),
        ({"team": "payments", "usd_per_month": 10, "valid_from": "2026-13"},
         "budgets[1] (payments): valid_from must be a month (YYYY-MM), not '2026-13'"),
        ({"team": "payments", "usd_per_month": 10, "valid_to": "2026-02-15"},
         "valid_to must be a month (YYYY-MM), not '2026-02-15'"),
        ({"team": "payments", "usd_per_month": 10, "valid_from": "2026-05", "valid_to": "2026-04"},
         "valid_to (2026-04) is before valid_from (2026-05)"),
        ({"team": "payments", "usd_per_month": 10, "monthly": 5}, "unknown key(s) ['monthly']"),
    ],
)
def test_budget_mistakes_are_named_precisely(budget, message):
    doc = _with_budgets({"team": "platform", "usd_per_month": 1000}, budget)
    with pytest.raises(OrgDirectoryError, match=re.escape(message)):
        parse_org_directory(doc, source="org.yml")


@pytest.mark.parametrize(
    "first, second, message",
    [
        # the same team twice, both open-ended
        ({"team": "payments", "usd_per_month": 10}, {"team": "payments", "usd_per_month": 20},
         "duplicate budget for team 'payments': budgets[1] (always..open) overlaps budgets[0] (always..open)"),
        # the same project, sharing one month (valid_to is inclusive)
        ({"team": "payments", "project": "checkout", "usd_per_month": 10, "valid_to": "2026-06"},
         {"team": "payments", "project": "checkout", "usd_per_month": 20, "valid_from": "2026-06"},
         "duplicate budget for project 'checkout': budgets[1] (2026-06..open) overlaps budgets[0] (always..2026-06)"),
    ],
)
def test_two_budgets_for_the_same_month_are_refused(first, second, message):
    with pytest.raises(OrgDirectoryError, match=re.escape(message)):
        parse_org_directory(_with_budgets(first, second), source="org.yml")


def test_a_team_budget_and_its_project_budgets_live_side_by_side():
    org = parse_org_directory(_with_budgets(
        {"team": "payments", "usd_per_month": 100},
        {"team": "payments", "project": "checkout", "usd_per_month": 40},
        {"team": "platform", "usd_per_month": 100},
    ))
    assert [b.id for b in org.budgets] == ["payments", "payments/checkout", "platform"]


def test_the_demo_budgets_cover_every_team_and_two_projects():
    from ingestion.org_directory import DEMO_ORG_DIRECTORY

    org = load_org_directory(DEMO_ORG_DIRECTORY)
    team_budgets = {b.team for b in org.budgets if b.project is None}
    assert team_budgets == {t.id for t in org.teams}
    assert len([b for b in org.budgets if b.project]) == 2


# a directory with a YAML date in it (unquoted: YAML gives a date, not text) and a fixed cost that reads it
DATED = yaml.safe_dump(VALID) + """fixed_costs:
- {id: gw, kind: shared, provider: gateway, usd_per_month: '620.10', valid_from: 2026-01-01, valid_to: 2026-07-01}
"""


def _yaml_calls(monkeypatch) -> list:
    import ingestion.org_directory as org_directory

    calls, load = [], yaml.load
    monkeypatch.setattr(org_directory.yaml, "load", lambda *a, **k: calls.append(1) or load(*a, **k))
    return calls


def _a_new_process(monkeypatch) -> None:
    """What a new process has: nothing parsed in its memory, only the folder of parsed copies."""
    import ingestion.org_directory as org_directory

    monkeypatch.setattr(org_directory, "_PARSED", {})


def test_a_new_process_reads_the_parsed_copy_and_not_the_yaml(tmp_path, monkeypatch, parsed_copies):
    path = tmp_path / "org.yml"
    path.write_text(DATED)
    calls = _yaml_calls(monkeypatch)
    _a_new_process(monkeypatch)
    first = load_org_directory(path)
    assert len(calls) == 1
    copy = parsed_copies / f"{hashlib.sha256(DATED.encode()).hexdigest()}.json"
    assert [p.name for p in parsed_copies.iterdir()] == [copy.name]
    assert os.stat(copy).st_mode & 0o777 == 0o600  # it names people: its owner's only
    # the dates are kept as dates, tagged, and the rest as YAML gave it
    stored = json.loads(copy.read_text())
    assert stored["fixed_costs"][0]["valid_from"] == {"__date__": "2026-01-01"}
    assert stored["people"][0]["email"] == "Ana.Silva@Example.com"

    _a_new_process(monkeypatch)
    again = load_org_directory(path)
    assert len(calls) == 1, "the YAML was parsed again"
    assert again is not first and again == first
    gw = again.fixed_costs[0]
    assert (gw.valid_from, gw.valid_to, gw.usd_per_month) == ("2026-01-01", "2026-07-01", "620.10")

    # an edit is another digest: its YAML is parsed, and its copy kept beside the first
    path.write_text(DATED.replace("Platform", "Core"))
    _a_new_process(monkeypatch)
    assert [t.name for t in load_org_directory(path).teams] == ["Core", "Payments"]
    assert len(calls) == 2 and len(list(parsed_copies.iterdir())) == 2


def test_a_copy_that_cannot_be_read_is_passed_over_and_written_again(tmp_path, monkeypatch, parsed_copies, caplog):
    path = tmp_path / "org.yml"
    path.write_text(DATED)
    load_org_directory(path)
    copy = next(parsed_copies.iterdir())
    copy.write_text('{"teams": [')  # cut short
    calls = _yaml_calls(monkeypatch)
    _a_new_process(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="ingestion.org_directory"):
        org = load_org_directory(path)
    assert len(calls) == 1 and [p.email for p in org.people] == ["ana.silva@example.com"]
    assert "cannot be read" in caplog.text
    assert json.loads(copy.read_text())["fixed_costs"][0]["valid_to"] == {"__date__": "2026-07-01"}


def test_a_folder_that_cannot_be_written_leaves_the_yaml_parsed_each_time(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("FINOPS_PIPELINES_DIR", str(blocker))  # its org_directory_parsed/ cannot be made
    path = tmp_path / "org.yml"
    path.write_text(DATED)
    calls = _yaml_calls(monkeypatch)
    for _ in range(2):
        _a_new_process(monkeypatch)
        with caplog.at_level(logging.WARNING, logger="ingestion.org_directory"):
            assert [t.id for t in load_org_directory(path).teams] == ["platform", "payments"]
    assert len(calls) == 2 and caplog.text.count("no parsed copy kept") == 2
    assert not list(tmp_path.glob("**/*.tmp"))


@pytest.mark.parametrize("doc", [
    {"teams": [], 1: "a key that is not text"},  # JSON would make it "1"
    {"teams": [{"id": "x", "note": {"__date__": "2026-01-01"}}]},  # text that reads back as a date
    {"teams": [{"id": "x", "note": {"__date__": "soon"}}]},  # and text that looks tagged but is no date
    {"teams": [{"id": "x", "note": {"__datetime__": 5}}]},
    {"teams": [], "tags": {"a", "b"}},  # YAML's !!set
    {"teams": [], "ratio": float("nan")},
])
def test_what_json_cannot_give_back_exactly_is_not_kept(tmp_path, monkeypatch, parsed_copies, doc):
    import ingestion.org_directory as org_directory

    path = tmp_path / "org.yml"
    path.write_text(repr(doc))  # any text: what YAML made of it is the stand-in's answer
    monkeypatch.setattr(org_directory.yaml, "load", lambda *a, **k: doc)
    try:
        load_org_directory(path)
    except OrgDirectoryError:
        pass  # not a valid directory: only the copy matters here
    assert not parsed_copies.exists() or not list(parsed_copies.iterdir())


def test_the_four_copies_read_or_written_last_are_kept(tmp_path, monkeypatch, parsed_copies):
    texts = [DATED.replace("Platform", f"Platform {i}") for i in range(5)]
    digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    path = tmp_path / "org.yml"
    for i, text in enumerate(texts[:4]):
        path.write_text(text)
        load_org_directory(path)
        os.utime(parsed_copies / f"{digests[i]}.json", (1_000_000 + i, 1_000_000 + i))
    # reading copy 0 again (a new process, the same file as before) makes copy 1 the least recently used
    path.write_text(texts[0])
    _a_new_process(monkeypatch)
    load_org_directory(path)
    (parsed_copies / "notes.json").write_text("{}")  # not a copy: left alone
    path.write_text(texts[4])
    load_org_directory(path)
    assert sorted(p.stem for p in parsed_copies.iterdir()) == sorted(digests[:1] + digests[2:] + ["notes"])
