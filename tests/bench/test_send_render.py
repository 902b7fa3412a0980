"""`bench send`'s section of docs/PERFORMANCE.md from a sample result (no database, no chain)."""

from bench.send_bench import render


def sample_run(size: int) -> dict:
    return {"size": size, "seconds": size / 5, "orders_per_s": 5.0, "ratio": 0.007, "queries_per_order": 40.0,
            "queries_min": 40, "queries_max": 40, "xacts_per_order": 17.1, "rpc_per_order": 8.0,
            "task_ms_per_order": 410.0, "node_ms_per_order": 60.0, "sql_ms_per_order": 200.0,
            "task_cpu_ms_per_order": 70.0,
            "cpu_ms_per_order": {"workers": 80.0, "anvil": 3.0, "redis": 1.0, "postgres": 32.0, "bench": 4.0},
            "tasks_per_worker": {"host-a": size // 2, "host-b": size - size // 2},
            "other_tasks": {"events.dispatch": 3 * size}, "other_queries_per_order": 9.0,
            "checks": {"nonce_advance": size, "candidates": size, "outcomes": {"sent": size},
                       "ledger_check": "healthy"}}


def test_render_shows_rate_ratio_queries_per_order_and_checks():
    result = {"date": "2026-12-02 04:30 UTC", "machine": {"nproc": 2, "load_average": [5.0, 4.0, 3.0]},
              "postgres": "15", "workers": 2, "conn_max_age": 60,
              "baseline": [{"tps": 700.0}, {"tps": 650.0}], "setups": [{"size": 100, "seconds": 23.0}],
              "runs": [sample_run(100), sample_run(1000)]}
    text = render(result)
    assert "| 100 | 20.0 s | 5.0 | **0.007×** | **40.0** (40–40) |" in text
    assert "| 1,000 | 200.0 s |" in text
    assert "700 / 650 tps" in text and "load average at the end 5.0/4.0/3.0" in text
    assert "1,000: nonce +1,000, 1,000 candidates, outcomes {'sent': 1000}, ledger_check healthy" in text
    assert "120 ms of CPU per order" in text and "at most 16.7 orders/s" in text
