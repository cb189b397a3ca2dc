"""`make bench`: every benchmark, one JSON document on stdout (progress on stderr)."""

import importlib
import json
import sys

BENCHMARKS = ("bench_ingestion", "bench_dixon_coles", "bench_walk_forward", "bench_make_run", "bench_celery")


def main() -> int:
    report = {}
    for name in BENCHMARKS:
        print(f"running {name} ...", file=sys.stderr)
        module = importlib.import_module(f"jackpot_pipeline_tests.benchmarks.{name}")
        report[name.removeprefix("bench_")] = module.run()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
