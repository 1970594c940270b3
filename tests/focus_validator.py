"""The FinOps Foundation's focus-validator, in its own Python 3.12 environment (it pins older duckdb, pandas and
numpy than the project, and needs Python 3.12+). Facts: shared reference notes, docs/focus.md in this project."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-focus"
VERSION = "2.2.1"
CRITERIA = ["USAGE_MEASUREMENT_SUPPORTED", "PUBLIC_PRICE_LIST_SUPPORTED", "UNIT_PRICING_SUPPORTED", "TAGGING_SUPPORTED",
            "SUB_ACCOUNT_SUPPORTED", "MULTIPLE_PRICING_CATEGORIES_SUPPORTED", "NEGOTIATED_PRICING_SUPPORTED"]
# InvoiceId is only RECOMMENDED and we have no invoice numbers, so it is left out; the validator then reports its
# optional rule tree as failed (and its two conditional rules contradict each other when the column is present).
KNOWN = re.compile(r"^(InvoiceId-C-\d{3}-[A-Z]|CostAndUsage-D-033-O)$")


def python312() -> Optional[str]:
    """A working Python 3.12 (a pyenv shim on PATH may exist without the version being selected: try each)."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    candidates += [p for p in (shutil.which("python3.12"), "/usr/bin/python3.12") if p]
    for candidate in candidates:
        try:
            if subprocess.run([candidate, "--version"], capture_output=True, timeout=30).returncode == 0:
                return candidate
        except OSError:
            continue
    return None


def install() -> Path:
    executable = VENV / "bin" / "focus-validator"
    if not executable.exists():
        interpreter = python312()
        if interpreter is None:
            raise FileNotFoundError("python3.12 is needed for focus-validator 2.x")
        subprocess.run([interpreter, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", f"focus-validator=={VERSION}", "pyarrow<18"],
                       check=True)
    return executable


def validate(data_file: Path) -> tuple[dict[str, int], list[str]]:
    """(totals, failed rule ids) for a FOCUS 1.2 CSV or Parquet file."""
    executable = install()
    site = next((VENV / "lib").glob("python3.*/site-packages"))
    result = subprocess.run(
        [str(executable), "--data-file", str(data_file.resolve()), "--validate-version", "1.2", "--block-download",
         "--applicability-criteria", ",".join(CRITERIA)],
        cwd=site, capture_output=True, text=True, timeout=600)  # it reads its currency list relative to the cwd
    output = result.stdout + result.stderr
    totals = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)", output)
    if not totals:
        raise RuntimeError(f"focus-validator gave no summary:\n{output[-3000:]}")
    failed = re.findall(r"^- ([A-Za-z]+-[A-Z]-\d{3}-[A-Z]): violations", output, flags=re.M)
    keys = ("total", "pass", "fail", "skipped")
    return dict(zip(keys, map(int, totals.groups()))), failed
