"""The daily brief: one static HTML page (charts as inline SVG, CSS inline, no network) for finance and team leads.

* `gather(query, day)` reads the marts through any `query(sql, *params)` that returns rows (a list of dicts or an
  Arrow table): plain portable SQL, schema-qualified tables, `%s` parameters, as dlt's SQL client takes them.
* `render(data)` turns what `gather` found into the page; every figure a test (or a script) may check carries
  `data-metric="<name>" data-value="<plain number>"` (money in USD to the cent, shares as a fraction 0..1).
* `write_brief(html, folder, day)` writes `<folder>/brief/<day>.html` and `latest.html`, and `<day>.pdf` when a
  Chromium binary is found (a PDF that cannot be made is logged, never fatal).

Optional marts: `marts.fct_budget_status` (budget burn) and `marts.fct_cost_anomalies` (top anomalies) are used when
they exist; until then the page shows month-to-date spend against last month's and the biggest team/day changes
against the team's trailing 7-day average, each labelled as a stand-in.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import io
import logging
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

log = logging.getLogger(__name__)

Query = Callable[..., Any]
CENT = Decimal("0.01")
TOP_MODELS = 6
TOP_TEAMS = 10  # the team chart stacks these and sums the rest: 200 teams in 12 colours read as noise
UNIT_WEEKS = 12
TREND_DAYS = 30
OTHER = "Other"
UNALLOCATED_COLOUR = "#9aa0a6"
OTHER_COLOUR = "#c9ced6"
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
           "#86bcb6", "#d37295", "#a0cbe8"]
INK, MUTED, GRID = "#1f2933", "#6b7785", "#e4e7eb"
OPTIONAL_MARTS = ("fct_budget_status", "fct_cost_anomalies")


# --------------------------------------------------------------------------------------------------------- reading

def _rows(result: Any) -> list[dict]:
    """A query's answer as a list of dicts with lower-case keys (Arrow tables and row lists alike)."""
    if hasattr(result, "to_pylist"):
        result = result.to_pylist()
    return [{str(k).lower(): v for k, v in dict(row).items()} for row in (result or [])]


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _cents(value: Any) -> Decimal:
    return _money(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _previous_month_start(day: dt.date) -> dt.date:
    return (_month_start(day) - dt.timedelta(days=1)).replace(day=1)


def _optional_marts(query: Query) -> dict[str, list[str]]:
    """Which optional marts exist, with their columns (information_schema: DuckDB, PostgreSQL, Snowflake)."""
    names = ", ".join(f"'{name}'" for name in OPTIONAL_MARTS)
    try:
        rows = _rows(query(
            "select lower(table_name) as table_name, lower(column_name) as column_name "
            "from information_schema.columns "
            f"where lower(table_schema) = 'marts' and lower(table_name) in ({names})"))
    except Exception as error:  # an engine without information_schema.columns: behave as if they were not built
        log.info(f"daily brief: could not list optional marts ({error}); using the stand-ins")
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        found[row["table_name"]].append(row["column_name"])
    return dict(found)


def _first(columns: Iterable[str], *candidates: str) -> Optional[str]:
    present = set(columns)
    return next((c for c in candidates if c in present), None)


def gather(query: Query, day: dt.date, built_at: Optional[dt.datetime] = None) -> dict:
    """Everything the page shows for `day` (the last day it covers), read through `query(sql, *params)`."""
    day = _day(day)
    built_at = built_at or dt.datetime.now(dt.timezone.utc)
    month_start, previous_month_start = _month_start(day), _previous_month_start(day)
    trend_start = day - dt.timedelta(days=TREND_DAYS - 1)
    first = min(trend_start, previous_month_start, day - dt.timedelta(days=13))

    team_days = _rows(query(
        "select usage_date, team_id, team_name, sum(billed_cost_usd) as billed_cost_usd "
        "from marts.fct_team_spend_daily where usage_date between %s and %s "
        "group by usage_date, team_id, team_name", first, day))
    spend: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for row in team_days:
        team = str(row["team_id"])
        spend[(_day(row["usage_date"]), team)] += _money(row["billed_cost_usd"])
        names[team] = row.get("team_name") or team
    daily: dict[dt.date, Decimal] = defaultdict(Decimal)
    for (when, _), amount in spend.items():
        daily[when] += amount

    def total(start: dt.date, end: dt.date) -> Decimal:
        return _cents(sum((v for d, v in daily.items() if start <= d <= end), Decimal(0)))

    spend_7d = total(day - dt.timedelta(days=6), day)
    spend_prev_7d = total(day - dt.timedelta(days=13), day - dt.timedelta(days=7))
    previous_month_end = month_start - dt.timedelta(days=1)
    same_day_last_month = previous_month_start.replace(day=min(day.day, previous_month_end.day))
    has_previous_month = any(previous_month_start <= d <= previous_month_end for d in daily)
    headline = {
        "spend_day": total(day, day),
        "spend_7d": spend_7d,
        "spend_prev_7d": spend_prev_7d,
        "change_7d": ((spend_7d - spend_prev_7d) / spend_prev_7d).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if spend_prev_7d else None,
        "spend_mtd": total(month_start, day),
        "spend_prev_mtd": total(previous_month_start, same_day_last_month) if has_previous_month else None,
    }

    [coverage] = _rows(query(
        "select sum(billed_cost_usd) as billed_cost_usd, sum(allocated_billed_cost_usd) as allocated_billed_cost_usd "
        "from marts.fct_allocation_coverage_daily where usage_date between %s and %s",
        day - dt.timedelta(days=6), day)) or [{}]
    billed, allocated = _money(coverage.get("billed_cost_usd")), _money(coverage.get("allocated_billed_cost_usd"))
    headline["allocation_coverage"] = ((allocated / billed).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                                       if billed else None)
    headline["unallocated_7d"] = _cents(billed - allocated)

    # spend by team, last 30 days; teams ordered by their 30-day spend, colours fixed by team id
    trend_days = [trend_start + dt.timedelta(days=i) for i in range(TREND_DAYS)]
    team_totals: dict[str, Decimal] = defaultdict(Decimal)
    for (when, team), amount in spend.items():
        if when >= trend_start:
            team_totals[team] += amount
    teams = sorted(team_totals, key=lambda t: (-team_totals[t], t))
    team_series = {t: [float(spend.get((d, t), 0)) for d in trend_days] for t in teams}
    week: dict[str, Decimal] = defaultdict(Decimal)
    for (when, team), amount in spend.items():
        if day - dt.timedelta(days=6) <= when <= day:
            week[team] += amount
    top_team = max(sorted(week), key=lambda t: week[t]) if week else None
    headline["top_team_7d"] = (names[top_team], _cents(week[top_team])) if top_team and week[top_team] > 0 else None

    # model mix, last 30 days
    models = _rows(query(
        "select provider, model_name, sum(billed_cost_usd) as billed_cost_usd "
        "from marts.fct_ai_usage_daily where usage_date between %s and %s "
        "group by provider, model_name", trend_start, day))
    models = sorted(({"model": f"{r['provider']} · {r['model_name']}", "billed": _money(r["billed_cost_usd"])}
                     for r in models), key=lambda r: (-r["billed"], r["model"]))
    model_mix = [(r["model"], _cents(r["billed"])) for r in models[:TOP_MODELS]]
    rest = sum((r["billed"] for r in models[TOP_MODELS:]), Decimal(0))
    if len(models) > TOP_MODELS:
        model_mix.append((f"{OTHER} ({len(models) - TOP_MODELS} models)", _cents(rest)))
    model_mix = [(name, amount) for name, amount in model_mix if amount != 0]

    # burn-up: cumulative spend this month and last month by day of month
    def cumulative(start: dt.date, end: dt.date) -> list[float]:
        running, out = Decimal(0), []
        for i in range((end - start).days + 1):
            running += daily.get(start + dt.timedelta(days=i), Decimal(0))
            out.append(float(running))
        return out

    burn = {
        "month": month_start, "previous_month": previous_month_start,
        "current": cumulative(month_start, day),
        "previous": cumulative(previous_month_start, previous_month_end) if has_previous_month else [],
    }

    # unit economics: the organisation's cost per merged PR and per resolved ticket, by week
    weeks = _rows(query(
        "select period_start, period_end, prs_merged, tickets_closed, cost_per_pr, cost_per_ticket "
        "from marts.fct_unit_economics where period_type = 'week' and team_id = '(all teams)' "
        "and period_start between %s and %s order by period_start",
        day - dt.timedelta(days=7 * UNIT_WEEKS), day))
    unit_weeks = [{"week": _day(r["period_start"]), "partial": _day(r["period_end"]) > day,
                   "cost_per_pr": None if r["cost_per_pr"] is None else _cents(r["cost_per_pr"]),
                   "cost_per_ticket": None if r["cost_per_ticket"] is None else _cents(r["cost_per_ticket"]),
                   "prs_merged": r["prs_merged"], "tickets_closed": r["tickets_closed"]} for r in weeks]

    optional = _optional_marts(query)
    return {
        "day": day, "built_at": built_at, "headline": headline,
        "names": names, "colours": team_colours(names),
        "trend_days": trend_days, "teams": teams, "team_series": team_series,
        "team_totals": {t: _cents(v) for t, v in team_totals.items()},
        "model_mix": model_mix, "burn": burn, "unit_weeks": unit_weeks,
        "budgets": _budgets(query, optional.get("fct_budget_status"), day),
        "anomalies": _anomalies(query, optional.get("fct_cost_anomalies"), day),
        "movers": movers(spend, names, day, since=min(daily, default=None)),
        "data_start": min(daily, default=None),
    }


def team_colours(names: dict[str, str]) -> dict[str, str]:
    """One colour per team, the same in every chart and table (by team id, 'unallocated' grey)."""
    teams = sorted(t for t in names if t != "unallocated")
    colours = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(teams)}
    colours["unallocated"] = UNALLOCATED_COLOUR
    return colours


def movers(spend: dict[tuple[dt.date, str], Decimal], names: dict[str, str], day: dt.date,
           since: Optional[dt.date] = None, top: int = 5) -> list[dict]:
    """Stand-in for anomalies: the team-days of the last 7 days furthest from the team's trailing 7-day average.

    Only days with 7 days of data before them count (`since`: the first day with any spend read), so a warehouse
    loaded last week does not show its first days as jumps from nothing."""
    found = []
    for team in names:
        for back in range(7):
            when = day - dt.timedelta(days=back)
            if since is None or when - dt.timedelta(days=7) < since:
                continue
            amount = spend.get((when, team), Decimal(0))
            average = sum((spend.get((when - dt.timedelta(days=i), team), Decimal(0)) for i in range(1, 8)),
                          Decimal(0)) / 7
            if amount or average:
                found.append({"day": when, "team": team, "team_name": names[team], "spend": _cents(amount),
                              "average": _cents(average), "change": _cents(amount - average),
                              "ratio": (amount - average) / average if average else None})
    found.sort(key=lambda r: (-abs(r["change"]), r["day"], r["team"]))
    return found[:top]


def _budgets(query: Query, columns: Optional[list[str]], day: dt.date) -> Optional[list[dict]]:
    """Rows of marts.fct_budget_status for the day (or its latest day before), when the mart exists."""
    if not columns:
        return None
    name = _first(columns, "budget_name", "scope_name", "team_name", "name", "budget_id", "team_id")
    budget = _first(columns, "budget_usd", "budget_amount_usd", "amount_usd", "limit_usd", "monthly_budget_usd")
    spent = _first(columns, "spend_to_date_usd", "mtd_spend_usd", "spent_usd", "actual_usd", "spend_usd",
                   "billed_cost_usd", "month_to_date_usd")
    forecast = _first(columns, "forecast_usd", "projected_usd", "forecast_spend_usd", "projected_spend_usd")
    when = _first(columns, "as_of_date", "status_date", "snapshot_date", "usage_date", "date_day", "day")
    if not (name and budget and spent):
        log.info("daily brief: marts.fct_budget_status has no recognisable name/budget/spend columns; burn-up shown")
        return None
    picked = ", ".join(c for c in (name, budget, spent, forecast, when) if c)
    sql = f"select {picked} from marts.fct_budget_status"
    rows = _rows(query(sql + f" where {when} <= %s", day) if when else query(sql))
    if when and rows:
        latest = max(_day(r[when]) for r in rows)
        rows = [r for r in rows if _day(r[when]) == latest]
    return [{"name": str(r[name]), "budget": _cents(r[budget]), "spent": _cents(r[spent]),
             "forecast": _cents(r[forecast]) if forecast and r.get(forecast) is not None else None}
            for r in sorted(rows, key=lambda r: (-(_money(r[spent]) / _money(r[budget]) if _money(r[budget]) else
                                                   Decimal("Infinity")), str(r[name])))]  # nearest the limit first


def _anomalies(query: Query, columns: Optional[list[str]], day: dt.date, top: int = 5) -> Optional[list[dict]]:
    """The top rows of marts.fct_cost_anomalies of the last 7 days, when the mart exists."""
    if not columns:
        return None
    sentence = _first(columns, "sentence", "description", "explanation", "summary", "message", "narrative")
    when = _first(columns, "anomaly_date", "usage_date", "date_day", "day", "detected_on", "detected_date")
    weight = _first(columns, "impact_usd", "excess_usd", "delta_usd", "deviation_usd", "score", "z_score",
                    "anomaly_score", "severity")
    if not sentence:
        log.info("daily brief: marts.fct_cost_anomalies has no sentence column; biggest changes shown")
        return None
    picked = ", ".join(c for c in (sentence, when, weight) if c)
    sql = f"select {picked} from marts.fct_cost_anomalies"
    rows = _rows(query(sql + f" where {when} between %s and %s", day - dt.timedelta(days=6), day) if when
                 else query(sql))
    if weight:
        rows.sort(key=lambda r: -abs(float(r[weight] or 0)))
    return [{"sentence": str(r[sentence]), "day": _day(r[when]) if when and r[when] else None} for r in rows[:top]]


# --------------------------------------------------------------------------------------------------------- charts

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "svg.hashsalt": "daily-brief", "font.family": "DejaVu Sans", "font.size": 9,
        "axes.edgecolor": GRID, "axes.labelcolor": MUTED, "axes.spines.top": False, "axes.spines.right": False,
        "axes.spines.left": False, "axes.grid": True, "axes.grid.axis": "y", "grid.color": GRID,
        "grid.linewidth": 0.8, "xtick.color": MUTED, "ytick.color": MUTED, "xtick.major.size": 0,
        "ytick.major.size": 0, "text.color": INK, "legend.frameon": False, "axes.axisbelow": True,
    })
    return plt


def _dollars_axis(ax, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    def short(value, _):
        if abs(value) >= 1000:
            return f"${value / 1000:,.1f}k".replace(".0k", "k")
        return f"${value:,.0f}" if value == int(value) else f"${value:,.2f}"

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(short))


def _svg(fig, name: str) -> str:
    """The figure as an inline <svg> that scales with its box, its ids made unique on the page."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.05, transparent=True,
                metadata={"Date": None, "Creator": None})
    _plt().close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r' xmlns:(dc|cc|rdf)="[^"]*"', "", svg)
    svg = re.sub(r'^<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', svg, count=1)
    svg = svg.replace("<svg", f'<svg role="img" aria-label="{name}"', 1)
    return _prefix_ids(svg, name).strip()


def _prefix_ids(svg: str, name: str) -> str:
    """Every id="X" of the SVG becomes id="name-X", and so do its references (url(#X), href="#X"), in one pass: a
    chart of 200 teams has thousands of ids, and a pass over the whole SVG per id took 9 s of the brief at L."""
    ids = set(re.findall(r'id="([^"]+)"', svg))

    def prefixed(match: re.Match) -> str:
        opening, ident, closing = (match.group(1), match.group(2), '"') if match.group(1) else \
            ("#", match.group(3), ")")
        return f"{opening}{name}-{ident}{closing}" if ident in ids else match.group(0)

    return re.sub(r'(id="|href="#)([^"]+)"|#([^)"#\s]+)\)', prefixed, svg)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=MUTED, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def team_layers(data: dict) -> list[tuple[str, str, list[float]]]:
    """The team chart's stacked layers, bottom first, as (legend label, colour, spend per day): the TOP_TEAMS teams
    with the most spend over the 30 days, the other teams summed as one grey layer, and unallocated spend on its own
    (it is never folded into the other teams). At L (200 teams) drawing every team took ~5 s and a 200-line legend."""
    series, names, colours = data["team_series"], data["names"], data["colours"]
    teams = [team for team in data["teams"] if team != "unallocated"]
    top, rest = teams[:TOP_TEAMS], teams[TOP_TEAMS:]
    layers = [(names[team], colours.get(team, OTHER_COLOUR), series[team]) for team in top]
    if rest:
        summed = [sum(day) for day in zip(*(series[team] for team in rest))]
        layers.append((f"{OTHER} ({len(rest)} teams)", OTHER_COLOUR, summed))
    if "unallocated" in data["teams"]:
        layers.append((names.get("unallocated", "Unallocated"), colours.get("unallocated", UNALLOCATED_COLOUR),
                       series["unallocated"]))
    return layers


def team_chart(data: dict) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12.6, 3.3))
    days = data["trend_days"]
    if not any(sum(v) for v in data["team_series"].values()):
        _empty(ax, "No AI spend in the last 30 days")
        return _svg(fig, "team_spend")
    bottom = [0.0] * len(days)
    for label, colour, values in team_layers(data):
        ax.bar(days, values, bottom=bottom, width=0.78, color=colour, label=label, linewidth=0)
        bottom = [b + v for b, v in zip(bottom, values)]
    _dollars_axis(ax)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %-d %b"))
    ax.set_xlim(mdates.date2num(days[0]) - 0.7, mdates.date2num(days[-1]) + 0.7)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9,
              handlelength=1.0, handleheight=1.0)
    return _svg(fig, "team_spend")


def model_chart(data: dict) -> str:
    plt = _plt()
    mix = data["model_mix"]
    fig, ax = plt.subplots(figsize=(4.6, 0.6 + 0.36 * max(len(mix), 3)))
    if not mix:
        _empty(ax, "No AI spend in the last 30 days")
        return _svg(fig, "model_mix")
    total = float(sum(amount for _, amount in mix)) or 1.0
    labels = [name for name, _ in mix][::-1]
    values = [float(amount) for _, amount in mix][::-1]
    colours = [OTHER_COLOUR if name.startswith(OTHER) else "#4e79a7" for name in labels]
    ax.barh(labels, values, color=colours, height=0.62)
    ax.grid(False)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="y", labelsize=8.5, labelcolor=INK)
    for y, value in enumerate(values):
        ax.text(value + max(values) * 0.02, y, f"{fmt_money(value)}  {value / total:.0%}", va="center", fontsize=8,
                color=MUTED)
    ax.set_xlim(0, max(values) * 1.5)
    return _svg(fig, "model_mix")


def burn_chart(data: dict) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    burn = data["burn"]
    current = burn["current"]
    if burn["previous"]:
        ax.plot(range(1, len(burn["previous"]) + 1), burn["previous"], color=MUTED, linestyle="--", linewidth=1.6,
                label=burn["previous_month"].strftime("%B %Y"))
        same = min(len(current), len(burn["previous"]))
        ax.plot([same], [burn["previous"][same - 1]], marker="o", markersize=5, color=MUTED)
        ax.annotate(fmt_money(burn["previous"][same - 1]), (same, burn["previous"][same - 1]), xytext=(6, -12),
                    textcoords="offset points", fontsize=8.5, color=MUTED)
    ax.plot(range(1, len(current) + 1), current, color="#4e79a7", linewidth=2.4, marker="o", markersize=2.8,
            label=f"{burn['month'].strftime('%B %Y')} to date")
    ax.annotate(fmt_money(current[-1]), (len(current), current[-1]), xytext=(6, 4), textcoords="offset points",
                fontsize=9, color="#4e79a7", fontweight="bold")
    ax.set_xlim(1, 31.5)
    ax.set_ylim(0, max([1.0] + current + burn["previous"]) * 1.08)
    ax.set_xticks([1, 5, 10, 15, 20, 25, 31])
    ax.set_xlabel("day of month")
    _dollars_axis(ax)
    ax.legend(loc="upper left", fontsize=8.5)
    return _svg(fig, "budget_burn")


def budget_chart(data: dict) -> str:
    plt = _plt()
    budgets = data["budgets"][:10]
    fig, ax = plt.subplots(figsize=(6.2, 0.6 + 0.4 * max(len(budgets), 3)))
    if not budgets:
        _empty(ax, "No budget status for this day")
        return _svg(fig, "budget_burn")
    labels = [b["name"] for b in budgets][::-1]
    ax.barh(labels, [float(b["budget"]) for b in budgets][::-1], color=GRID, height=0.62, label="budget")
    spent = [float(b["spent"]) for b in budgets][::-1]
    over = [b["spent"] > b["budget"] for b in budgets][::-1]
    ax.barh(labels, spent, color=["#e15759" if o else "#4e79a7" for o in over], height=0.36, label="spent")
    ax.grid(False)
    ax.grid(True, axis="x")
    _dollars_axis(ax, "x")
    ax.legend(loc="lower right", fontsize=8.5)
    return _svg(fig, "budget_burn")


def unit_chart(data: dict) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    weeks = data["unit_weeks"]
    if not weeks:
        _empty(ax, "No weekly unit economics yet")
        return _svg(fig, "unit_economics")
    for key, label, colour in (("cost_per_pr", "per merged PR", "#4e79a7"),
                               ("cost_per_ticket", "per resolved ticket", "#f28e2b")):
        points = [(w["week"], float(w[key])) for w in weeks if w[key] is not None]
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], color=colour, linewidth=2.2, label=label,
                marker="o", markersize=4)
        partial = [(w["week"], float(w[key])) for w in weeks if w[key] is not None and w["partial"]]
        if partial:
            ax.plot([p[0] for p in partial], [p[1] for p in partial], linestyle="none", marker="o", markersize=7,
                    markerfacecolor="white", markeredgecolor=colour, markeredgewidth=1.6)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO, interval=max(1, len(weeks) // 6)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b"))
    ax.set_xlim(weeks[0]["week"] - dt.timedelta(days=3), weeks[-1]["week"] + dt.timedelta(days=3))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("week starting")
    _dollars_axis(ax)
    ax.legend(loc="lower left", fontsize=8.5, ncol=2)
    return _svg(fig, "unit_economics")


# ------------------------------------------------------------------------------------------------------------- page

def fmt_money(value: Any) -> str:
    amount = _cents(value)
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def fmt_share(value: Any, signed: bool = False) -> str:
    return f"{float(value):+.1%}" if signed else f"{float(value):.1%}"


def metric(name: str, value: Any, text: Optional[str] = None, kind: str = "money", cls: str = "") -> str:
    """`<span data-metric=... data-value=...>` with the visible text; a missing value shows '—' and data-value=''."""
    if value is None:
        raw, shown = "", text or "—"
    elif kind == "money":
        raw, shown = f"{_cents(value):.2f}", text or fmt_money(value)
    else:
        raw, shown = f"{Decimal(str(value)):.4f}", text or fmt_share(value)
    klass = f' class="{cls}"' if cls else ""
    return f'<span{klass} data-metric="{name}" data-value="{raw}">{html_lib.escape(shown)}</span>'


def _e(text: Any) -> str:
    return html_lib.escape(str(text))


def _long_day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _short_day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _tiles(data: dict) -> str:
    h, day = data["headline"], data["day"]
    change = h["change_7d"]
    if change is None:
        delta = '<span class="flat" data-metric="change_7d" data-value="">no spend in the 7 days before</span>'
    else:
        arrow, cls = ("▲", "up") if change > 0 else ("▼", "down") if change < 0 else ("■", "flat")
        delta = (f'<span class="{cls}">{arrow} {metric("change_7d", change, fmt_share(change, signed=True), "share")}'
                 f"</span> vs previous 7 days ({metric('spend_prev_7d', h['spend_prev_7d'])})")
    previous = (f"{metric('spend_prev_mtd', h['spend_prev_mtd'])} by the same day of "
                f"{data['burn']['previous_month']:%B}" if h["spend_prev_mtd"] is not None
                else f"no {data['burn']['previous_month']:%B} data to compare")
    coverage = (f"of billed spend has an owning team (last 7 days); "
                f"{metric('unallocated_7d', h['unallocated_7d'])} unallocated"
                if h["allocation_coverage"] is not None else "no billed spend in the last 7 days")
    tiles = [
        (f"Spend on {_short_day(day)}", metric("spend_day", h["spend_day"]),
         f"daily average over the last 7 days: {metric('daily_average_7d', h['spend_7d'] / 7)}"),
        ("Last 7 days", metric("spend_7d", h["spend_7d"]), delta),
        (f"{day:%B} to date", metric("spend_mtd", h["spend_mtd"]), previous),
        ("Allocation coverage", metric("allocation_coverage", h["allocation_coverage"], kind="share"), coverage),
    ]
    return "\n".join(f'<div class="tile"><div class="label">{_e(label)}</div><div class="value">{value}</div>'
                     f'<div class="sub">{sub}</div></div>' for label, value, sub in tiles)


def _lede(data: dict) -> str:
    """One or two sentences a person reads before the numbers."""
    h, day, previous = data["headline"], data["day"], data["burn"]["previous_month"]
    text = (f"AI spend was <b>{fmt_money(h['spend_day'])}</b> on {day:%A} and <b>{fmt_money(h['spend_7d'])}</b> over "
            "the last 7 days")
    if h["change_7d"] is not None:
        change = h["change_7d"]
        text += (", the same as the 7 days before" if change == 0 else
                 f", {abs(change):.1%} {'more' if change > 0 else 'less'} than the 7 days before")
    text += "."
    if h["spend_prev_mtd"]:
        change = (h["spend_mtd"] - h["spend_prev_mtd"]) / h["spend_prev_mtd"]
        text += (f" {day:%B} so far is {abs(change):.1%} {'above' if change >= 0 else 'below'} {previous:%B} at "
                 "the same day.")
    if h["top_team_7d"] and h["spend_7d"]:
        name, amount = h["top_team_7d"]
        text += f" {_e(name)} spent the most this week ({fmt_money(amount)}, {amount / h['spend_7d']:.0%})."
    return f'<p class="lede">{text}</p>'


def _figure(name: str, title: str, svg: str, caption: str, wide: bool = False, extra: str = "") -> str:
    klass = "card wide" if wide else "card"
    return (f'<figure class="{klass}" data-chart="{name}"><h2>{_e(title)}</h2>{svg}{extra}'
            f"<figcaption>{caption}</figcaption></figure>")


def _unit_summary(data: dict) -> str:
    weeks = data["unit_weeks"]
    complete = [w for w in weeks if not w["partial"]]
    week = (complete or weeks or [None])[-1]
    if week is None:
        return ""
    label = f"week of {week['week'].day} {week['week']:%b}" + (" (to date)" if week["partial"] else "")
    return (f'<p class="stats">{_e(label)}: <b>{metric("cost_per_pr", week["cost_per_pr"])}</b> per merged PR '
            f'({_e(week["prs_merged"] or 0)} PRs) · <b>{metric("cost_per_ticket", week["cost_per_ticket"])}</b> '
            f'per resolved ticket ({_e(week["tickets_closed"] or 0)} tickets)</p>')


def _changes_table(data: dict) -> str:
    if data["anomalies"] is not None:
        items = "".join(f"<li>{_e(a['sentence'])}</li>" for a in data["anomalies"]) or \
            "<li>No anomalies in the last 7 days.</li>"
        return (f'<section class="card" data-table="anomalies"><h2>Top anomalies, last 7 days</h2>'
                f'<ol class="anomalies">{items}</ol>'
                f"<p class=\"note\">From marts.fct_cost_anomalies.</p></section>")
    rows = []
    for i, m in enumerate(data["movers"]):
        colour = data["colours"].get(m["team"], OTHER_COLOUR)
        ratio = "" if m["ratio"] is None else f" ({fmt_share(m['ratio'], signed=True)})"
        cls = "up" if m["change"] > 0 else "down"
        change = fmt_money(m["change"]) if m["change"] < 0 else "+" + fmt_money(m["change"])
        rows.append(
            f'<tr data-row="{i}"><td>{_e(_short_day(m["day"]))}</td>'
            f'<td><span class="dot" style="background:{colour}"></span>{_e(m["team_name"])}</td>'
            f'<td class="num">{metric(f"mover_{i}_spend", m["spend"])}</td>'
            f'<td class="num">{fmt_money(m["average"])}</td>'
            f'<td class="num {cls}">{metric(f"mover_{i}_change", m["change"], change)}{_e(ratio)}</td></tr>')
    empty = ("No team spend in the last 14 days." if data["data_start"] is None else
             f"Not enough history yet: the warehouse's spend starts on {_short_day(data['data_start'])}, and each "
             "day needs the 7 days before it.")
    body = "".join(rows) or f'<tr><td colspan="5" class="empty">{_e(empty)}</td></tr>'
    return ('<section class="card" data-table="biggest_changes"><h2>Biggest changes, last 7 days</h2>'
            '<table><thead><tr><th>Day</th><th>Team</th><th class="num">Spend</th>'
            '<th class="num">Trailing 7-day avg</th><th class="num">Change</th></tr></thead>'
            f"<tbody>{body}</tbody></table>"
            '<p class="note">Team-days furthest from the team\'s average of the 7 days before. A simple stand-in '
            "until anomaly detection (marts.fct_cost_anomalies) is in place.</p></section>")


CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#1f2933;font:14px/1.45 "Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1320px;margin:0 auto;padding:28px 32px 40px}
header{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;border-bottom:3px solid #1f2933;padding-bottom:14px;margin-bottom:20px}
.kicker{font-size:12px;letter-spacing:.12em;text-transform:uppercase;color:#6b7785;font-weight:600}
h1{margin:4px 0 0;font-size:28px;font-weight:700;letter-spacing:-.01em}
.meta{color:#6b7785;font-size:12.5px;text-align:right;line-height:1.6}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:16px;margin-bottom:16px}
.tile{background:#fff;border-radius:10px;padding:16px 18px;box-shadow:0 1px 2px rgba(16,24,40,.08);border-top:4px solid #4e79a7}
.tile .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#6b7785;font-weight:600}
.tile .value{font-size:30px;font-weight:700;margin:6px 0 4px;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
.tile .sub{font-size:12.5px;color:#6b7785}
.up{color:#c0392b}.down{color:#2e7d32}.flat{color:#6b7785}
.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
.card{background:#fff;border-radius:10px;padding:16px 18px 12px;margin:0;box-shadow:0 1px 2px rgba(16,24,40,.08);break-inside:avoid}
.card.wide{grid-column:1 / -1}
.card h2{margin:0 0 8px;font-size:15px;font-weight:650}
figure svg{display:block;width:100%;height:auto}
figcaption,.note{color:#6b7785;font-size:12px;margin-top:8px}
.stats{margin:6px 0 0;font-size:13px}
table{width:100%;border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th{text-align:left;color:#6b7785;font-weight:600;font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;border-bottom:1px solid #e4e7eb;padding:6px 8px}
td{padding:7px 8px;border-bottom:1px solid #f0f2f4;white-space:nowrap}
.lede{font-size:15px;margin:0 0 16px;max-width:1000px}
.num{text-align:right;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:7px;vertical-align:-1px}
.empty{color:#6b7785;text-align:center;padding:18px;white-space:normal}
ol.anomalies{margin:0;padding-left:20px}ol.anomalies li{margin:6px 0}
footer{color:#6b7785;font-size:12px;margin-top:18px;line-height:1.6}
@page{size:A4 landscape;margin:10mm}
@media print{body{background:#fff;font-size:12px}main{max-width:none;padding:0}
.card,.tile{box-shadow:none;border:1px solid #e4e7eb}.card{padding:10px 12px 8px;page-break-inside:avoid}
header{padding-bottom:8px;margin-bottom:10px}.lede{font-size:13px;margin-bottom:10px}
.tiles,.grid{gap:8px}.tiles{margin-bottom:8px}.tile{padding:10px 12px}.tile .value{font-size:24px}
.card.wide{page-break-after:always}td{padding:5px 6px}
.grid figure:not(.wide) svg{height:225px;width:auto;max-width:100%;margin:0 auto}figcaption,.note{margin-top:4px}}
"""


def render(data: dict) -> str:
    """The brief as one self-contained HTML page."""
    day, built = data["day"], data["built_at"]
    trend = f"{_short_day(data['trend_days'][0])} – {_short_day(day)}"
    if data["budgets"] is not None:
        burn = _figure("budget_burn", "Budgets this month", budget_chart(data),
                       "Spend to date against each budget (marts.fct_budget_status); red: over budget.")
    else:
        previous = data["burn"]["previous_month"]
        against = (f"against all of {previous:%B}" if data["burn"]["previous"]
                   else f"({previous:%B} has no data in the warehouse)")
        if data["data_start"] and data["data_start"] > data["burn"]["month"]:
            against += f"; the warehouse's spend starts on {_short_day(data['data_start'])}"
        burn = _figure("budget_burn", "Month-to-date spend vs last month", burn_chart(data),
                       f"Cumulative billed spend by day of month: {day:%B} to {_short_day(day)} {against}. "
                       "Budgets appear here once configured.")
    charts = [
        _figure("team_spend", "Spend by team, last 30 days", team_chart(data),
                f"Billed spend per day and team, {trend} (marts.fct_team_spend_daily): the {TOP_TEAMS} teams "
                f"with the most spend, the rest as “{OTHER}”. Each team keeps its colour across the page; "
                "dark grey is unallocated spend.", wide=True),
        burn,
        _figure("model_mix", "Model mix, last 30 days", model_chart(data),
                f"Billed spend by model, {trend}: the top {TOP_MODELS} and the rest as “{OTHER}” "
                "(marts.fct_ai_usage_daily)."),
        _figure("unit_economics", "Cost per merged PR and per resolved ticket", unit_chart(data),
                "All teams, by ISO week (marts.fct_unit_economics); a hollow dot is the week still in progress.",
                extra=_unit_summary(data)),
        _changes_table(data),
    ]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AI spend brief · {day.isoformat()}</title>
<style>{CSS}</style>
</head>
<body>
<main data-day="{day.isoformat()}">
<header>
  <div><div class="kicker">AI spend · daily brief</div><h1>{_e(_long_day(day))}</h1></div>
  <div class="meta">Covers <time datetime="{day.isoformat()}" data-metric="day">{_e(_long_day(day))}</time> (UTC)<br>
  All amounts: billed USD, allocated to teams<br>
  Built <time datetime="{built.isoformat(timespec='seconds')}" data-metric="built_at">{built:%Y-%m-%d %H:%M} UTC</time></div>
</header>
{_lede(data)}
<section class="tiles">
{_tiles(data)}
</section>
<section class="grid">
{chr(10).join(charts)}
</section>
<footer>Figures are the providers' billed cost from the warehouse marts, allocated down to teams; providers may
restate recent days, and the next run picks that up. Coverage is the share of billed spend with an owning team.</footer>
</main>
</body>
</html>
"""


# ------------------------------------------------------------------------------------------------------------ files

def chromium() -> Optional[str]:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def write_pdf(page: Path, pdf: Path, timeout: int = 90) -> Optional[Path]:
    """Print the page with headless Chromium; None (and a log line) when that is not possible."""
    binary = chromium()
    if binary is None:
        log.info("daily brief: no Chromium found, no PDF")
        return None
    with tempfile.TemporaryDirectory(prefix="brief-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                   f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                   page.resolve().as_uri()]
        try:
            pdf.unlink(missing_ok=True)
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError) as error:
            log.warning(f"daily brief: PDF not made ({error})")
            return None
    if not pdf.exists() or pdf.stat().st_size == 0:
        log.warning(f"daily brief: PDF not made (chromium exit {result.returncode}: {result.stderr[-500:]})")
        return None
    return pdf


def write_brief(html: str, folder: Path, day: dt.date, pdf: bool = True) -> dict[str, Path]:
    """`<folder>/brief/<day>.html`, `latest.html` and (with Chromium) `<day>.pdf`; returns what was written."""
    target = Path(folder) / "brief"
    target.mkdir(parents=True, exist_ok=True)
    page = target / f"{_day(day).isoformat()}.html"
    page.write_text(html, encoding="utf-8")
    written = {"html": page}
    # a backfill of an older day leaves latest.html on the newest brief
    if not any(p.stem > page.stem for p in target.glob("????-??-??.html")):
        written["latest"] = target / "latest.html"
        written["latest"].write_text(html, encoding="utf-8")
    if pdf:
        made = write_pdf(page, target / f"{_day(day).isoformat()}.pdf")
        if made:
            written["pdf"] = made
    return written
