"""Shared state of the offline chains (BTC test chain, recorded TRON node): a JSON file that
every process of the console (web, worker, beat, tests) reads and writes under one file lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def locked_json_state(directory: Path, *, state_file: str, lock_file: str,
                      initial: Callable[[], dict]) -> Iterator[dict]:
    """Yield the state, exclusively; write it back (atomically) only if it changed."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / lock_file, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / state_file
        state = json.loads(path.read_text()) if path.exists() else initial()
        before = json.dumps(state, sort_keys=True)
        yield state
        after = json.dumps(state, sort_keys=True)
        if after != before:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(after)
            os.replace(tmp, path)
