# Two front doors: `make run` (the demo pipeline end to end, through Dagster) and `make test`.
# Everything installs itself from requirements.lock into .venv; nothing else is assumed but python3 and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

# Run window: first and last day (inclusive, UTC). Empty = the last $(DAYS) days up to yesterday.
START ?=
END   ?=
DAYS  ?= 90

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export RUNTIME__DLTHUB_TELEMETRY := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: run test dev bench install docs clean lock lookml metabase metrics check-warehouses

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@# bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) every Python process
	@# would otherwise compile dbt, Dagster and dlt from source again (~1.5 s of each dbt command's start-up)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

## make run [START=YYYY-MM-DD END=YYYY-MM-DD | DAYS=N]: materialize every asset of the window through Dagster
run: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m orchestration.run --start "$(START)" --end "$(END)" --days "$(DAYS)"

## make test: the whole offline test suite (CI runs exactly this)
test: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m pytest

## make dev: Dagster's UI on the same warehouse (http://127.0.0.1:3000)
dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

## make bench [SIZE=S|M|L]: ingestion and build speed on a generated organisation (docs/performance.md)
## S = 50 developers x 90 days, M = 2,000 x 365, L = 10,000 x 365; BENCH_DEVS / BENCH_DAYS override;
## BENCH_SOURCES=anthropic,openai,cursor picks the sources measured over the whole period (cursor_events: events only);
## BENCH_SAMPLE_DAYS=7: the other sources land and are measured over the last 7 days (instead of landing empty)
SIZE ?= M
BENCH_DEVS ?=
BENCH_DAYS ?=
BENCH_SOURCES ?=
BENCH_SAMPLE_DAYS ?=
bench: install
	$(BIN)/python -m bench.run --size $(SIZE) $(if $(BENCH_DEVS),--developers $(BENCH_DEVS)) $(if $(BENCH_DAYS),--days $(BENCH_DAYS)) \
		$(if $(BENCH_SOURCES),--sources $(BENCH_SOURCES)) $(if $(BENCH_SAMPLE_DAYS),--sample-days $(BENCH_SAMPLE_DAYS))

## make check-warehouses [ENGINES="bigquery snowflake databricks"]: compile every model and data test for each engine
## without credentials or a connection and read the SQL in its dialect (tools/warehouse_sql_check.py); each adapter
## gets a virtualenv of its own under .venv-engines/ (they move some of the lock's versions), with the lock's sqlglot
## and the adapter versions below (CI runs this after the tests)
ENGINES ?= bigquery snowflake databricks
ADAPTER_VERSION_bigquery   := 1.11.3
ADAPTER_VERSION_snowflake  := 1.11.6
ADAPTER_VERSION_databricks := 1.11.8
check-warehouses: install
	@set -e; $(foreach engine,$(ENGINES), \
		$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python .venv-engines/$(engine); \
		$(BIN)/uv pip install --quiet --python .venv-engines/$(engine)/bin/python "dbt-core>=1.11,<1.12" \
			"dbt-$(engine)==$(ADAPTER_VERSION_$(engine))" "$$(grep '^sqlglot==' requirements.lock)"; \
		.venv-engines/$(engine)/bin/python tools/warehouse_sql_check.py $(engine);)

## make docs: dbt docs for the marts (dbt_project/target/index.html)
docs: install
	cd dbt_project && WAREHOUSE_PATH="$${WAREHOUSE_PATH:-$(CURDIR)/data/warehouse.duckdb}" ../$(BIN)/dbt docs generate --profiles-dir .

## make lookml: Looker views and explores from the dbt marts' yml, into looker/ (commit the result)
lookml: install
	$(BIN)/python -m delivery.lookml

## make metrics [METRICS=spend,cost_per_pr GROUP_BY=metric_time__month,team__team_name]: query the dbt semantic layer
METRICS  ?= spend,cost_per_pr,premium_share,allocation_coverage
GROUP_BY ?= metric_time__month,team__team_name
metrics: install
	cd dbt_project && export DBT_PROFILES_DIR=. WAREHOUSE_PATH="$${WAREHOUSE_PATH:-$(CURDIR)/data/warehouse.duckdb}" && \
		../$(BIN)/dbt parse --quiet && ../$(BIN)/mf query --metrics $(METRICS) --group-by $(GROUP_BY)

## make metabase [MB_URL=http://localhost:3000 MB_DATABASE="AI FinOps"]: load the Metabase dashboard
## (credentials from METABASE_API_KEY, or METABASE_USERNAME and METABASE_PASSWORD)
MB_URL      ?= http://localhost:3000
MB_DATABASE ?= AI FinOps
metabase: install
	$(BIN)/python -m delivery.metabase --url "$(MB_URL)" --database-name "$(MB_DATABASE)"

## make lock: re-resolve requirements.lock after editing pyproject.toml
lock: install
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o requirements.lock --python-version 3.11

clean:
	rm -rf data/warehouse.duckdb data/dlt_pipelines $(DAGSTER_HOME) dbt_project/target dbt_project/logs .venv-engines
