"""Benchmarks, one command: ``python -m bench all`` or ``python -m bench NAME`` (``--help``).

Each benchmark is a module of this package with a ``main()`` that reads ``sys.argv[1:]`` (and
accepts ``--quick``), measures its own baseline (pgbench TPC-B on the same PostgreSQL, in the same
run), prints ratios and writes ``var/bench/<name>.json``. A module that also has
``render(result) -> str`` gets its section of docs/PERFORMANCE.md regenerated from that JSON.
Adding one is one line in ``bench.__main__.BENCHMARKS``.
"""
