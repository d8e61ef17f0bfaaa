"""`python -m bench run|report|compare ...`: dispatch only; each command's module is
imported lazily so `report` and `compare` never load the driver. A lab error none of them
handled is one line and its exit code here (lab/errors.py)."""

import os
import sys

from lab.errors import guarded

USAGE = "usage: python -m bench {run|report|compare} ... (-h for a command's options)"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        from bench.driver.cli import main as run
    elif command == "report":
        from bench.analysis.report.report import main as run
    elif command == "compare":
        from bench.analysis.compare.compare import main as run
    else:
        print(f"bench: unknown command {command!r}; allowed: run, report, compare", file=sys.stderr)
        return 2
    return guarded(os.environ.get("BENCH_PROG", f"python -m bench {command}"), run, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
