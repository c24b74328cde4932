"""Smoke test of bench/federation.py: its quick run (two platforms over loopback HTTP, 3 forward round
trips, a drain of 100 messages) ends well and prints every figure. The bench always uses SQLite files
of its own (the suite's database is not touched), so it runs once: under SQLite."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.environ.get("TEST_DATABASE_URL", "sqlite") != "sqlite",
                    reason="the bench runs on SQLite files of its own: once, in the SQLite run, is enough")
def test_the_quick_federation_bench_prints_its_figures():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "federation.py"), "--quick"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=180)
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    number = r"\d+(?:\.\d+)?"
    for label in ("city 320500 (forward receiver)", "county 320583 (drain receiver)"):
        assert re.search(rf"\| {re.escape(label)} \| 60 \| {number} \| {number} \|", out), out
    for label in ("forward leg", "receipt leg", "ROUND TRIP"):
        assert re.search(rf"\| {label} [^|]*\| {number} \| {number} \| {number}x \|", out), out
    assert re.search(rf"\| messages/s \| {number} \|", out) and re.search(rf"\| drain \(s\) \| {number} \|", out), out
    assert re.search(rf"\| drain / \(100 × baseline median \(county\)\) \| {number}x \|", out), out
    assert "| delivered / retry / dead / lost | 100 / 0 / 0 / 0 |" in out
    assert "| receiver inbox rows for these messages | 100 (expected 100) |" in out
    assert "| trail entries added at the origin | 100 (expected 100) |" in out
