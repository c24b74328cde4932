"""Statistics shared by the benchmarks (run as scripts: ``bench/`` is first on sys.path)."""
import math
import statistics


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p95(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]
