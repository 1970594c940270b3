"""Load a Metabase dashboard of the marts from a JSON definition (default `metabase/ai_spend_overview.json`).

    METABASE_API_KEY=... python -m delivery.metabase --url http://localhost:3000 --database-name "AI FinOps"

The definition: `name`, `description` and `cards`, each {key, name, description, display, sql,
visualization_settings, layout: {row, col, size_x, size_y}} on Metabase's 24-column grid. Every card is a native
SQL question on the database Metabase knows the warehouse as. Running it again updates the cards (found by name in
the collection) and the dashboard (found by name) instead of adding copies.

Auth comes from the environment only: METABASE_API_KEY (header x-api-key), else METABASE_USERNAME and
METABASE_PASSWORD (POST /api/session). Secrets are never printed or logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import requests

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEFINITION = ROOT / "metabase" / "ai_spend_overview.json"
DISPLAYS = {"scalar", "line", "bar", "area", "pie", "table", "row"}
GRID_COLUMNS = 24
TIMEOUT = 30  # seconds, on every request


class DefinitionError(ValueError):
    """The dashboard definition is malformed."""


class MetabaseError(RuntimeError):
    """Metabase answered an API call with an error (or could not be reached)."""


# ------------------------------------------------------------------------------------------------------ definition

def validate_definition(definition: dict) -> dict:
    """The definition itself, or DefinitionError naming the first card that is wrong."""
    if not definition.get("name") or not isinstance(definition.get("cards"), list) or not definition["cards"]:
        raise DefinitionError("a dashboard definition needs a name and a non-empty list of cards")
    keys: set[str] = set()
    names: set[str] = set()
    cells: dict[tuple[int, int], str] = {}
    for card in definition["cards"]:
        label = card.get("key") or card.get("name") or "?"
        missing = [f for f in ("key", "name", "display", "sql", "layout") if not card.get(f)]
        if missing:
            raise DefinitionError(f"card {label!r}: missing {', '.join(missing)}")
        if card["key"] in keys or card["name"] in names:  # names too: the importer finds existing cards by name
            raise DefinitionError(f"card {label!r}: its key or name is used twice")
        keys.add(card["key"])
        names.add(card["name"])
        if card["display"] not in DISPLAYS:
            raise DefinitionError(f"card {label!r}: display {card['display']!r} is not one of {sorted(DISPLAYS)}")
        box = card["layout"]
        if not all(isinstance(box.get(f), int) for f in ("row", "col", "size_x", "size_y")):
            raise DefinitionError(f"card {label!r}: layout needs integer row, col, size_x and size_y")
        if box["row"] < 0 or box["col"] < 0 or box["size_x"] < 1 or box["size_y"] < 1 \
                or box["col"] + box["size_x"] > GRID_COLUMNS:
            raise DefinitionError(f"card {label!r}: layout {box} does not fit the {GRID_COLUMNS}-column grid")
        for r in range(box["row"], box["row"] + box["size_y"]):
            for c in range(box["col"], box["col"] + box["size_x"]):
                if (r, c) in cells:
                    raise DefinitionError(f"card {label!r} overlaps card {cells[(r, c)]!r} at row {r}, col {c}")
                cells[(r, c)] = label
    return definition


def load_definition(path: str | Path = DEFAULT_DEFINITION) -> dict:
    try:
        definition = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DefinitionError(f"cannot read dashboard definition {path}: {exc}") from exc
    return validate_definition(definition)


def check_cards(query: Callable[[str], Any], definition: dict) -> dict[str, int]:
    """Run every card's SQL through `query(sql) -> rows`; {card key: row count}. Raises naming the failing card."""
    counts = {}
    for card in definition["cards"]:
        try:
            counts[card["key"]] = len(list(query(card["sql"])))
        except Exception as exc:
            raise RuntimeError(f"card {card['name']!r} ({card['key']}): its SQL failed: {exc}") from exc
    return counts


def check_warehouse(database: str | Path, definition_path: str | Path = DEFAULT_DEFINITION) -> dict[str, int]:
    """check_cards on a DuckDB warehouse file, opened read-only (for tests and a quick look before importing)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return check_cards(lambda sql: con.execute(sql).fetchall(), load_definition(definition_path))


# ------------------------------------------------------------------------------------------------------------- API

class Metabase:
    def __init__(self, url: str, session: Optional[requests.Session] = None, timeout: float = TIMEOUT):
        self.url, self.http, self.timeout = url.rstrip("/"), session or requests.Session(), timeout

    def call(self, method: str, endpoint: str, payload: Any = None, params: Optional[dict] = None) -> Any:
        try:
            response = self.http.request(method, self.url + endpoint, json=payload, params=params,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise MetabaseError(f"{method} {endpoint}: cannot reach Metabase at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()
            except ValueError:
                message = response.text[:300]
            if isinstance(message, dict):
                message = message.get("message") or message.get("errors") or message
            raise MetabaseError(f"{method} {endpoint} failed: HTTP {response.status_code}: {message}")
        return response.json() if response.content else None

    def login(self, env: Mapping[str, str]) -> None:
        if env.get("METABASE_API_KEY"):
            self.http.headers["x-api-key"] = env["METABASE_API_KEY"]
        elif env.get("METABASE_USERNAME") and env.get("METABASE_PASSWORD"):
            answer = self.call("POST", "/api/session",
                               {"username": env["METABASE_USERNAME"], "password": env["METABASE_PASSWORD"]})
            self.http.headers["X-Metabase-Session"] = answer["id"]
        else:
            raise MetabaseError("set METABASE_API_KEY, or METABASE_USERNAME and METABASE_PASSWORD")


def _items(answer: Any) -> list[dict]:
    return answer.get("data", []) if isinstance(answer, dict) else list(answer or [])


def database_id_by_name(mb: Metabase, name: str) -> int:
    databases = _items(mb.call("GET", "/api/database"))
    for db in databases:
        if db.get("name") == name:
            return db["id"]
    known = ", ".join(str(db.get("name")) for db in databases) or "none"
    raise MetabaseError(f"GET /api/database: no database named {name!r} (Metabase has: {known})")


def import_dashboard(mb: Metabase, definition: dict, database_id: int, collection_id: Optional[int] = None) -> int:
    """Create or update every card and the dashboard; the dashboard's id."""
    existing = {c["name"]: c["id"] for c in _items(mb.call("GET", "/api/card", params={"f": "all"}))
                if c.get("collection_id") == collection_id and not c.get("archived")}
    card_ids = {}
    for card in definition["cards"]:
        payload = {"name": card["name"], "description": card.get("description"), "display": card["display"],
                   "dataset_query": {"type": "native", "database": database_id, "native": {"query": card["sql"]}},
                   "visualization_settings": card.get("visualization_settings") or {}, "collection_id": collection_id}
        if card["name"] in existing:
            card_ids[card["key"]] = mb.call("PUT", f"/api/card/{existing[card['name']]}", payload)["id"]
        else:
            card_ids[card["key"]] = mb.call("POST", "/api/card", payload)["id"]
        log.info("card %r: id %s", card["name"], card_ids[card["key"]])

    dashboards = [d for d in _items(mb.call("GET", "/api/dashboard/"))
                  if d.get("name") == definition["name"] and d.get("collection_id") == collection_id
                  and not d.get("archived")]
    about = {"name": definition["name"], "description": definition.get("description"), "collection_id": collection_id}
    dashboard_id = dashboards[0]["id"] if dashboards else mb.call("POST", "/api/dashboard", about)["id"]
    # keep the ids of dashcards already showing one of our cards; negative ids make new ones, the rest are removed
    current = mb.call("GET", f"/api/dashboard/{dashboard_id}") or {}
    reuse = {dc["card_id"]: dc["id"] for dc in current.get("dashcards") or [] if dc.get("card_id")}
    dashcards = [{"id": reuse.get(card_ids[card["key"]], -n), "card_id": card_ids[card["key"]], **card["layout"],
                  "parameter_mappings": [], "visualization_settings": {}}
                 for n, card in enumerate(definition["cards"], start=1)]
    mb.call("PUT", f"/api/dashboard/{dashboard_id}", {**about, "dashcards": dashcards})
    log.info("dashboard %r: id %s, %d cards", definition["name"], dashboard_id, len(dashcards))
    return dashboard_id


def main(argv: Optional[list[str]] = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.metabase", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="Metabase base URL, e.g. http://localhost:3000")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--database-id", type=int, help="Metabase's id of the warehouse database")
    target.add_argument("--database-name", help="the warehouse database's name in Metabase")
    parser.add_argument("--collection-id", type=int, help="collection for the cards and dashboard (default: root)")
    parser.add_argument("--definition", default=str(DEFAULT_DEFINITION), help="dashboard definition JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        definition = load_definition(args.definition)
        mb = Metabase(args.url)
        mb.login(env)
        database_id = args.database_id if args.database_id is not None else database_id_by_name(mb, args.database_name)
        dashboard_id = import_dashboard(mb, definition, database_id, args.collection_id)
    except (DefinitionError, MetabaseError) as exc:
        log.error("error: %s", exc)
        return 1
    print(f"{definition['name']!r}: {mb.url}/dashboard/{dashboard_id} ({len(definition['cards'])} cards)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
