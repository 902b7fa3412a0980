"""Test-only fault injection: the worker kills itself at a named point of the pipeline.

``WDC_FAULT=<point>`` makes the process SIGKILL itself every time it reaches that point
(``after_sign``, ``after_send``, ``during_sweep``); ``WDC_FAULT_FILE=<path>`` does it once, at the
point named in that file, which is removed first (a restarted worker then goes on). Both unset
in production: ``fault_point`` is then two dictionary lookups.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)


def fault_point(point: str) -> None:
    """Test hook: SIGKILL this process at ``point`` when asked to (see the module docstring)."""
    wanted, flag = os.environ.get("WDC_FAULT"), os.environ.get("WDC_FAULT_FILE")
    if not wanted and not flag:
        return  # production: nothing set
    if wanted != point:
        if not flag:
            return
        try:
            with open(flag) as file:
                if file.read().strip() != point:
                    return
            os.remove(flag)  # once: a restarted worker goes on
        except FileNotFoundError:
            return
    logger.warning("fault injection at %s: killing process %s", point, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)
