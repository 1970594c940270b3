"""The daily brief from hand-made marts: the headline figures computed by hand here, the page opened in a real
browser (headless Chromium), every chart drawn, and a screenshot in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from delivery import brief
from tests.browser import artifact, browser_page

D = dt.date
BUILT = dt.datetime(2026, 3, 11, 6, 5, tzinfo=dt.timezone.utc)
CHARTS = ("team_spend", "model_mix", "budget_burn", "unit_economics")

# (day, team_id, team_name, billed USD)
TEAM_SPEND = [
    (D(2026, 1, 15), "payments", "Payments", "999.99"),   # before every window
    (D(2026, 2, 5), "payments", "Payments", "8.00"),      # February, before its 10th: last month at the same day
    (D(2026, 2, 20), "payments", "Payments", "100.00"),   # February, after its 10th
    (D(2026, 2, 26), "payments", "Payments", "20.00"),    # the previous 7 days (25 Feb .. 3 Mar)
    (D(2026, 3, 3), "platform", "Platform", "5.00"),      # the previous 7 days, and this month
    (D(2026, 3, 5), "payments", "Payments", "10.00"),     # the last 7 days (4 .. 10 Mar)
    (D(2026, 3, 8), "platform", "Platform", "5.00"),
    (D(2026, 3, 9), "payments", "Payments", "10.00"),
    (D(2026, 3, 10), "payments", "Payments", "10.00"),    # the day itself
    (D(2026, 3, 10), "platform", "Platform", "2.50"),
    (D(2026, 3, 10), "unallocated", "Unallocated", "0.25"),
    (D(2026, 3, 11), "payments", "Payments", "50.00"),    # after the day: never shown
]
DAY = D(2026, 3, 10)
# by hand, from the rows above
SPEND_DAY = "12.75"       # 10.00 + 2.50 + 0.25
SPEND_7D = "37.75"        # 10.00 + 5.00 + 10.00 + 10.00 + 2.50 + 0.25
SPEND_PREV_7D = "25.00"   # 20.00 + 5.00
CHANGE_7D = "0.5100"      # (37.75 - 25.00) / 25.00
SPEND_MTD = "42.75"       # 5.00 + 37.75
SPEND_PREV_MTD = "8.00"   # 1 .. 10 February

# (day, provider, billed, allocated): 7 days 37.75 billed, 37.50 allocated; 1 March is outside them
COVERAGE = [
    (D(2026, 3, 1), "openai", "5.00", "0.00"),
    (D(2026, 3, 5), "anthropic", "10.00", "10.00"),
    (D(2026, 3, 8), "openai", "5.00", "5.00"),
    (D(2026, 3, 9), "anthropic", "10.00", "10.00"),
    (D(2026, 3, 10), "anthropic", "10.00", "10.00"),
    (D(2026, 3, 10), "openai", "2.75", "2.50"),
]
COVERAGE_7D = "0.9934"    # 37.50 / 37.75
UNALLOCATED_7D = "0.25"

MODELS = [(D(2026, 3, 2), "anthropic", f"Model {n}", f"{amount}.00")
          for n, amount in zip("ABCDEFGH", (40, 30, 20, 10, 8, 6, 4, 2))]

# (team, type, start, end, cost, prs, tickets, cost per pr, cost per ticket)
UNIT = [
    ("(all teams)", "week", D(2026, 2, 23), D(2026, 3, 1), "140.00", 7, 4, "20.00", "35.00"),
    ("(all teams)", "week", D(2026, 3, 2), D(2026, 3, 8), "33.00", 11, 3, "3.00", "11.00"),
    ("(all teams)", "week", D(2026, 3, 9), D(2026, 3, 15), "22.75", 2, 0, "11.38", None),  # in progress
    ("payments", "week", D(2026, 3, 2), D(2026, 3, 8), "20.00", 1, 1, "20.00", "20.00"),    # a team: not shown
    ("(all teams)", "month", D(2026, 3, 1), D(2026, 3, 31), "42.75", 13, 3, "3.29", "14.25"),
]


def make_marts(path: Path, team_spend=(), coverage=(), models=(), unit=()) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.fct_team_spend_daily (usage_date date, team_id varchar, team_name varchar, "
                "billed_cost_usd decimal(38, 9))")
    con.execute("create table marts.fct_allocation_coverage_daily (usage_date date, provider varchar, "
                "billed_cost_usd decimal(38, 9), allocated_billed_cost_usd decimal(38, 9))")
    con.execute("create table marts.fct_ai_usage_daily (usage_date date, provider varchar, model_name varchar, "
                "billed_cost_usd decimal(38, 9))")
    con.execute("create table marts.fct_unit_economics (team_id varchar, period_type varchar, period_start date, "
                "period_end date, ai_cost_usd decimal(38, 9), prs_merged bigint, tickets_closed bigint, "
                "cost_per_pr decimal(38, 2), cost_per_ticket decimal(38, 2))")
    for table, rows in (("fct_team_spend_daily", team_spend), ("fct_allocation_coverage_daily", coverage),
                        ("fct_ai_usage_daily", models), ("fct_unit_economics", unit)):
        for row in rows:
            con.execute(f"insert into marts.{table} values ({', '.join('?' * len(row))})", list(row))
    return con


def arrow_query(con):
    """dlt's SQL client takes `%s` parameters; DuckDB's Python API takes `?`."""
    return lambda sql, *params: con.sql(sql.replace("%s", "?"), params=list(params)).to_arrow_table()


def dict_query(con):
    def query(sql, *params):
        cursor = con.execute(sql.replace("%s", "?"), list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    return query


def metrics(page) -> dict[str, tuple[str, str]]:
    """Every data-metric on the page: (data-value, the text a person sees)."""
    return {name: (value, text) for name, value, text in page.eval_on_selector_all(
        "[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value ?? '', e.innerText.trim()])")}


def drawn(page, chart: str) -> int:
    """Drawn shapes of a chart's inline SVG (matplotlib draws bars, lines and markers as paths)."""
    return page.eval_on_selector(
        f'figure[data-chart="{chart}"]',
        "f => f.querySelector('svg') ? f.querySelectorAll('svg path, svg rect, svg line, svg use').length : 0")


def open_brief(tmp_path: Path, data: dict, page):
    html = brief.render(data)
    written = brief.write_brief(html, tmp_path / "out", data["day"], pdf=False)
    page.goto(written["html"].resolve().as_uri())
    return written


def test_the_brief_shows_the_hand_computed_figures_in_a_browser(tmp_path):
    con = make_marts(tmp_path / "warehouse.duckdb", TEAM_SPEND, COVERAGE, MODELS, UNIT)
    data = brief.gather(arrow_query(con), DAY, built_at=BUILT)
    assert data["headline"]["spend_7d"] == Decimal(SPEND_7D)

    with browser_page() as page:
        written = open_brief(tmp_path, data, page)
        shown = metrics(page)
        expected = {
            "spend_day": (SPEND_DAY, "$12.75"), "spend_7d": (SPEND_7D, "$37.75"),
            "spend_prev_7d": (SPEND_PREV_7D, "$25.00"), "change_7d": (CHANGE_7D, "+51.0%"),
            "spend_mtd": (SPEND_MTD, "$42.75"), "spend_prev_mtd": (SPEND_PREV_MTD, "$8.00"),
            "allocation_coverage": (COVERAGE_7D, "99.3%"), "unallocated_7d": (UNALLOCATED_7D, "$0.25"),
            # the last complete week (2 .. 8 March), organisation-wide
            "cost_per_pr": ("3.00", "$3.00"), "cost_per_ticket": ("11.00", "$11.00"),
            # biggest change: Payments on 9 March, 10.00 against (10.00 on 5 March) / 7 = 1.43
            "mover_0_spend": ("10.00", "$10.00"), "mover_0_change": ("8.57", "+$8.57"),
        }
        for name, value in expected.items():
            assert shown[name] == value, name
        assert "Tuesday 10 March 2026" in page.inner_text("header")
        assert "2026-03-11 06:05 UTC" in page.inner_text("header")
        assert "Payments" in page.inner_text('[data-table="biggest_changes"] tr[data-row="0"]')
        assert "stand-in" in page.inner_text('[data-table="biggest_changes"]')
        assert "Budgets appear here once configured" in page.inner_text('figure[data-chart="budget_burn"]')

        for chart in CHARTS:
            assert page.locator(f'figure[data-chart="{chart}"] svg').count() == 1, chart
            assert page.locator(f'figure[data-chart="{chart}"] figcaption').inner_text().strip(), chart
            assert drawn(page, chart) > 5, chart
            box = page.locator(f'figure[data-chart="{chart}"] svg').bounding_box()
            assert box["width"] > 300 and box["height"] > 120, (chart, box)
        # the legend names each team; the model mix folds the 7th and 8th model into "Other"
        team_chart = page.inner_text('figure[data-chart="team_spend"]')
        assert {"Payments", "Platform", "Unallocated"} <= set(team_chart.split("\n"))
        mix = page.inner_text('figure[data-chart="model_mix"]')
        assert "anthropic · Model A" in mix and "Other (2 models)" in mix and "Model H" not in mix
        assert "$6.00" in mix  # Other = 4.00 + 2.00
        # self-contained: nothing fetched from anywhere
        assert page.evaluate("performance.getEntriesByType('resource').length") == 0
        page.screenshot(path=str(artifact("daily_brief.png")), full_page=True)

    html = written["html"].read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|url\(\s*[\"']?https?:|@import", html)
    assert "<svg" in html and "<img" not in html and "<script" not in html
    assert written["latest"].read_text() == html


def test_burn_up_compares_with_all_of_a_shorter_previous_month(tmp_path):
    """On 31 March 'the same day last month' is 28 February: all of February counts."""
    rows = [(D(2026, 2, 1), "search", "Search", "1.00"), (D(2026, 2, 27), "search", "Search", "2.00"),
            (D(2026, 2, 28), "search", "Search", "4.00"), (D(2026, 3, 31), "search", "Search", "3.00"),
            (D(2026, 3, 2), "search", "Search", "0.50")]
    con = make_marts(tmp_path / "warehouse.duckdb", rows)
    data = brief.gather(dict_query(con), D(2026, 3, 31), built_at=BUILT)
    assert data["burn"]["current"][-1] == 3.5 and len(data["burn"]["current"]) == 31
    assert data["burn"]["previous"] == [1.0] * 26 + [3.0, 7.0]
    with browser_page() as page:
        open_brief(tmp_path, data, page)
        shown = metrics(page)
        assert shown["spend_prev_mtd"] == ("7.00", "$7.00")
        assert shown["spend_mtd"] == ("3.50", "$3.50")
        assert "February" in page.inner_text('figure[data-chart="budget_burn"]')
        assert drawn(page, "budget_burn") > 10


def test_a_day_without_spend_renders_zeros(tmp_path):
    con = make_marts(tmp_path / "warehouse.duckdb")
    data = brief.gather(dict_query(con), DAY, built_at=BUILT)
    with browser_page() as page:
        open_brief(tmp_path, data, page)
        shown = metrics(page)
        for name in ("spend_day", "spend_7d", "spend_mtd"):
            assert shown[name] == ("0.00", "$0.00"), name
        assert shown["change_7d"][0] == "" and shown["allocation_coverage"] == ("", "—")
        assert "spend_prev_mtd" not in shown  # no February data: nothing to compare with, said in words
        for chart in CHARTS:
            assert page.locator(f'figure[data-chart="{chart}"] svg').count() == 1, chart
        assert "No AI spend in the last 30 days" in page.inner_text('figure[data-chart="team_spend"]')
        assert "No team spend" in page.inner_text('[data-table="biggest_changes"]')
        page.screenshot(path=str(artifact("daily_brief_empty.png")), full_page=True)


def test_budget_status_and_anomalies_are_used_once_those_marts_exist(tmp_path):
    con = make_marts(tmp_path / "warehouse.duckdb", TEAM_SPEND, COVERAGE, MODELS, UNIT)
    con.execute("create table marts.fct_budget_status (as_of_date date, budget_name varchar, "
                "budget_usd decimal(38, 2), spend_to_date_usd decimal(38, 2), forecast_usd decimal(38, 2))")
    con.execute("insert into marts.fct_budget_status values ('2026-03-10', 'Payments', 100, 40, 120), "
                "('2026-03-10', 'Platform', 5, 7.5, 20), ('2026-03-09', 'Payments', 100, 30, 110)")
    con.execute("create table marts.fct_cost_anomalies (anomaly_date date, sentence varchar, impact_usd decimal(38, 2))")
    con.execute("insert into marts.fct_cost_anomalies values "
                "('2026-03-09', 'Payments spent $10.00 on Monday, 7x its usual.', 8.57), "
                "('2026-03-01', 'Too old to show.', 99)")
    data = brief.gather(arrow_query(con), DAY, built_at=BUILT)
    assert [b["name"] for b in data["budgets"]] == ["Platform", "Payments"]
    with browser_page() as page:
        open_brief(tmp_path, data, page)
        burn = page.inner_text('figure[data-chart="budget_burn"]')
        assert "Budgets this month" in burn and "once configured" not in burn
        assert drawn(page, "budget_burn") > 5
        anomalies = page.inner_text('[data-table="anomalies"]')
        assert "7x its usual" in anomalies and "Too old" not in anomalies


def test_write_brief_keeps_latest_on_the_newest_day(tmp_path, monkeypatch):
    monkeypatch.setattr(brief, "chromium", lambda: None)
    brief.write_brief("<p>new</p>", tmp_path, D(2026, 3, 10))
    written = brief.write_brief("<p>old</p>", tmp_path, D(2026, 3, 1))  # a backfill
    assert set(written) == {"html"}
    assert (tmp_path / "brief" / "latest.html").read_text() == "<p>new</p>"
    assert (tmp_path / "brief" / "2026-03-01.html").read_text() == "<p>old</p>"
    assert not (tmp_path / "brief" / "2026-03-01.pdf").exists()


def test_write_brief_prints_a_pdf_with_chromium(tmp_path):
    if brief.chromium() is None:
        pytest.skip("Chromium not installed")
    con = make_marts(tmp_path / "warehouse.duckdb", TEAM_SPEND, COVERAGE, MODELS, UNIT)
    html = brief.render(brief.gather(arrow_query(con), DAY, built_at=BUILT))
    written = brief.write_brief(html, tmp_path, DAY)
    assert written["pdf"] == tmp_path / "brief" / "2026-03-10.pdf"
    assert written["pdf"].read_bytes()[:5] == b"%PDF-"


def test_biggest_changes_wait_for_seven_days_of_history(tmp_path):
    """A warehouse loaded three days ago has no trailing week to compare with: no row, and the page says why."""
    rows = [(D(2026, 3, 8), "search", "Search", "1.00"), (D(2026, 3, 10), "search", "Search", "9.00")]
    con = make_marts(tmp_path / "warehouse.duckdb", rows)
    data = brief.gather(dict_query(con), DAY, built_at=BUILT)
    assert data["movers"] == []
    html = brief.render(data)
    assert "Not enough history yet: the warehouse&#x27;s spend starts on Sun 8 Mar" in html


def _prefix_ids_one_id_at_a_time(svg: str, name: str) -> str:
    """The reference: each id and its references replaced one id at a time (what the brief did before)."""
    for ident in set(re.findall(r'id="([^"]+)"', svg)):
        svg = (svg.replace(f'id="{ident}"', f'id="{name}-{ident}"').replace(f"#{ident})", f"#{name}-{ident})")
               .replace(f'href="#{ident}"', f'href="#{name}-{ident}"'))
    return svg


def test_chart_ids_are_prefixed_with_their_references_and_nothing_else():
    svg = ('<svg><defs><clipPath id="p1"><rect/></clipPath><path id="m2" d="M0 0"/></defs>'
           '<g clip-path="url(#p1)"><use xlink:href="#m2" x="1"/><use href="#m2"/></g>'
           '<path style="fill: #1f77b4" d="M1 1"/><g clip-path="url(#elsewhere)"/><a href="#p1x"/></svg>')
    assert brief._prefix_ids(svg, "team") == (
        '<svg><defs><clipPath id="team-p1"><rect/></clipPath><path id="team-m2" d="M0 0"/></defs>'
        '<g clip-path="url(#team-p1)"><use xlink:href="#team-m2" x="1"/><use href="#team-m2"/></g>'
        '<path style="fill: #1f77b4" d="M1 1"/><g clip-path="url(#elsewhere)"/><a href="#p1x"/></svg>')


def test_a_real_charts_ids_come_out_as_one_id_at_a_time():
    plt = brief._plt()
    fig, ax = plt.subplots()
    for team in range(40):
        ax.bar([0, 1, 2], [team, team + 1, team + 2], bottom=[team, team, team], label=f"team {team}")
    ax.legend()
    buffer = __import__("io").StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    assert len(set(re.findall(r'id="([^"]+)"', svg))) > 100
    assert brief._prefix_ids(svg, "team_chart") == _prefix_ids_one_id_at_a_time(svg, "team_chart")


def test_the_team_chart_stacks_the_top_teams_and_sums_the_rest():
    """Thirteen teams and unallocated spend: the ten with the most 30-day spend (data['teams'] order) each get a
    layer, the other three one summed grey layer, unallocated its own layer on top whatever its size."""
    from delivery.brief import OTHER_COLOUR, TOP_TEAMS, UNALLOCATED_COLOUR, team_layers

    assert TOP_TEAMS == 10
    teams = [f"t{n:02d}" for n in range(1, 14)]
    series = {team: [float(20 - n), 1.0] for n, team in enumerate(teams)}  # t01: 20 + 1, ... t13: 8 + 1
    series["unallocated"] = [100.0, 0.5]
    data = {"teams": ["unallocated", *teams], "team_series": series,
            "names": {**{t: t.upper() for t in teams}, "unallocated": "Unallocated"},
            "colours": {**{t: "#123456" for t in teams}, "unallocated": UNALLOCATED_COLOUR}}
    layers = team_layers(data)
    assert [label for label, _, _ in layers] == [f"T{n:02d}" for n in range(1, 11)] + ["Other (3 teams)", "Unallocated"]
    assert layers[10] == ("Other (3 teams)", OTHER_COLOUR, [10.0 + 9.0 + 8.0, 3.0])  # t11, t12, t13
    assert layers[11] == ("Unallocated", UNALLOCATED_COLOUR, [100.0, 0.5])
    assert layers[0] == ("T01", "#123456", [20.0, 1.0])
    # ten teams or fewer: no summed layer
    few = {**data, "teams": teams[:3]}
    assert [label for label, _, _ in team_layers(few)] == ["T01", "T02", "T03"]
