"""Any manage.py command started on a bad configuration says what is wrong in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


@pytest.mark.parametrize("url, says", [
    ("postgresql://postgres@127.0.0.1:1/nope", "cannot connect"),
    ("mysql://user@host/db", "must be a PostgreSQL URL"),
])
def test_bad_database_url_gets_a_clear_message_and_no_traceback(url, says):
    result = manage("migrate", DATABASE_URL=url)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_api_url_answers_json_even_in_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
