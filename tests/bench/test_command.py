"""`python -m bench`: the quick mode runs end to end (no timing asserts), and the docs are
regenerated from the JSON between each benchmark's markers, leaving every other section alone."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import bench.__main__ as command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quick_mode_runs_and_writes_json(tmp_path):
    url = os.environ["DATABASE_URL"].rsplit("/", 1)
    env = dict(os.environ, BENCH_RESULTS_DIR=str(tmp_path),
               # scratch databases named after this test's, never after a benchmark run by hand
               DATABASE_URL=f"{url[0]}/test_{url[1]}_{os.getpid()}")
    # One benchmark through the whole command (child process, scratch databases, pgbench baseline,
    # JSON): each migrates a scratch database of its own, minutes on a loaded 2-core host, so the
    # others' quick modes are run by hand (`python -m bench --quick all`), not by the suite.
    proc = subprocess.Popen([sys.executable, "-m", "bench", "--quick", "--no-docs", "batch"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:  # timed out: the benchmark's own child goes too
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
    assert proc.returncode == 0, out[-6000:]
    batch = json.loads((tmp_path / "batch.json").read_text())
    assert batch["ledger_check"] == "healthy"
    assert batch["rounds"][0]["settlements_per_s"] > 0 and batch["rounds"][0]["pgbench"][0]["tps"] > 0


def test_docs_are_regenerated_between_markers_only(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr("bench.common.RESULTS_DIR", results)
    (results / "batch.json").write_text(json.dumps({
        "date": "2026-12-01 00:00 UTC", "machine": {"nproc": 2}, "postgres": "15", "customers": 1, "orders": 2,
        "batch": 2, "ledger_check": "healthy", "target": "t",
        "rounds": [{"round": 1, "pgbench": [{"tps": 10.0}], "settlements_per_s": 40.0, "settlements_ratio": 4.0,
                    "settlements_one_by_one_per_s": 5.0, "deposits_per_s": 20.0, "deposits_ratio": 2.0}]}))
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text("# Performance\n\nHand-written.\n\n<!-- bench:batch -->\nold figures\n<!-- /bench:batch -->\n\n"
                   "## Tax\n\n<!-- bench:tax -->\nwritten by the tax benchmark\n<!-- /bench:tax -->\n")
    assert command.regenerate_docs(doc) == ["batch"]
    text = doc.read_text()
    assert "old figures" not in text and "**4.00×**" in text
    assert "Hand-written." in text and "written by the tax benchmark" in text
    assert command.regenerate_docs(doc) == ["batch"] and doc.read_text() == text  # stable


def test_every_registered_benchmark_is_one_line_and_unknown_names_are_refused(capsys):
    assert all(module.startswith("bench.") for module in command.BENCHMARKS.values())
    assert command.main(["nosuch"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
