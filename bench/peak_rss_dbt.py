"""Run dbt in this process and print its peak memory (DuckDB runs inside dbt) as the last line.

Not named dbt_*: dbt imports modules with that prefix as plugins. Peak memory is VmHWM from /proc: getrusage's
ru_maxrss would include the parent's memory from before exec on Linux.
"""

import sys

from dbt.cli.main import dbtRunner

result = dbtRunner().invoke(sys.argv[1:])
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f"PEAK_RSS_MIB={peak_kib / 1024:.0f}", flush=True)
sys.exit(0 if result.success else 1)
