"""Keys stay in the worker: the admin's fee bump only queues a task (its request never touches a
hot key), and when signing blows up, the key is in no log line, HTTP response, task result or
error report (``sensitive_variables`` blanks it, DEBUG on or off). The key file must be 0600 and
ours, and is created so from the first byte. Signing on the session's real anvil node."""

from __future__ import annotations

import html
import inspect
import logging
import os
import re
import stat
import sys

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from chains import hot_wallets
from chains.adapters.evm import adapter as evm_adapter
from chains.hot_wallets import HotKeyFileUnsafe, hot_key, hot_keys_ensure
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import pipeline_send
from withdrawals.pipeline.staff import pipeline_fee_bump_run
from withdrawals.tasks import fee_bump, withdrawal_send

S = WithdrawalOrder.Status


class InjectedSigningFailure(RuntimeError):
    pass


def explode_inside_build_and_sign(monkeypatch, key: bytes) -> list[bool]:
    """Make EvmAdapter.build_and_sign fail after it has been called with the key: its first
    helper (to_units) raises. Records that the real build_and_sign held the key, keeps nothing."""
    entered: list[bool] = []

    def to_units(amount, decimals):
        caller = inspect.currentframe().f_back
        entered.append(caller.f_code.co_name == "build_and_sign" and caller.f_locals.get("private_key") == key)
        del caller
        raise InjectedSigningFailure("injected while signing")

    monkeypatch.setattr(evm_adapter, "to_units", to_units)
    return entered


def key_forms(key: bytes) -> list[str]:
    """The key as hex (any case, 0x or not), as a bytes repr's content, as a list of ints."""
    return [key.hex(), key.hex().upper(), repr(key)[2:-1], str(list(key))[1:-1]]


def assert_no_key(key: bytes, *texts: str) -> None:
    for text in texts:
        # HTML unescaped, and a bytes repr that pprint split over lines (b'...'\n b'...') joined again.
        plain = re.sub(r"""['"]\s*\n\s*b['"]""", "", html.unescape(text))
        for form in key_forms(key):
            assert form not in plain


def failure_of(call, **kwargs) -> BaseException:
    """The injected failure as raised by ``call``, its traceback starting here (not in the test,
    whose own frame holds the key to compare with)."""
    try:
        call(**kwargs)
    except InjectedSigningFailure as exc:
        return exc
    pytest.fail(f"{call.__name__} did not fail")


def report_of(exc: BaseException) -> str:
    """The error report Django would send or show: the text and the technical 500 page, whose
    frames list every local variable."""
    reporter = ExceptionReporter(None, type(exc), exc, exc.__traceback__)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


@pytest.mark.chain
@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_failure_while_signing_leaks_the_key_nowhere(scene, monkeypatch, caplog, settings, debug):
    settings.DEBUG = debug
    key = scene.hot.key
    monkeypatch.setenv("HOT_KEY_ETH", key.hex())
    order = scene.request("ETH", "0.1")
    scene.approve(order)
    entered = explode_inside_build_and_sign(monkeypatch, key)

    with caplog.at_level(logging.DEBUG):
        result = withdrawal_send.apply(args=[order.pk])

    assert entered == [True]  # the real build_and_sign had the key when it failed
    assert result.failed() and isinstance(result.result, InjectedSigningFailure)
    # Celery clears the frames of a failed task; the same failure raised directly keeps them, and
    # Django's report lists every local of every frame.
    with caplog.at_level(logging.DEBUG):
        report = report_of(failure_of(pipeline_send, order_id=order.pk))
    assert "_sign_and_store" in report and "build_and_sign" in report and "<td>order_id</td>" in report
    assert "********************" in report  # the frames are there, their secrets blanked
    assert_no_key(key, report, report_of(result.result), str(result.traceback), repr(result.result), caplog.text,
                  "\n".join(repr(r.args) for r in caplog.records))
    order.refresh_from_db()
    assert order.status == S.APPROVED and not WithdrawalTransaction.objects.filter(order=order).exists()


@pytest.mark.chain
@pytest.mark.django_db
def test_the_admin_fee_bump_queues_a_task_and_never_holds_a_key(scene, monkeypatch, caplog, settings, admin_client,
                                                              django_capture_on_commit_callbacks):
    key = scene.hot.key
    monkeypatch.setenv("HOT_KEY_ETH", key.hex())
    settings.PIPELINE_STUCK_AFTER_SECONDS = 0
    with scene.anvil.automine_off():
        order = scene.request("ETH", "0.1")
        scene.approve(order)
        assert pipeline_send(order_id=order.pk).outcome == "sent"
        (first,) = WithdrawalTransaction.objects.filter(order=order)

        def no_key_in_the_web_request(*args, **kwargs):
            pytest.fail("the admin request asked for a hot key")

        for module in (hot_wallets, sys.modules["withdrawals.pipeline.fee_bump"],
                       sys.modules["withdrawals.pipeline.send"]):
            monkeypatch.setattr(module, "hot_key", no_key_in_the_web_request)
        with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks() as queued:
            response = admin_client.post(reverse("admin:withdrawals_withdrawalorder_changelist"), {
                "action": "bump_fee", "_selected_action": [order.pk], "apply": "1", "reason": "stuck"}, follow=True)
        page = response.content.decode()
        assert response.status_code == 200 and "Fee bump queued" in page
        assert WithdrawalTransaction.objects.filter(order=order).count() == 1  # nothing signed in the web
        assert len(queued) == 1
        monkeypatch.undo()  # the worker side: the real hot_key, the key in the environment
        monkeypatch.setenv("HOT_KEY_ETH", key.hex())
        settings.PIPELINE_STUCK_AFTER_SECONDS = 0

        applied = []
        monkeypatch.setattr(fee_bump, "delay", lambda *a, **k: applied.append(fee_bump.apply(args=a, kwargs=k)))
        entered = explode_inside_build_and_sign(monkeypatch, key)
        with caplog.at_level(logging.DEBUG):
            queued[0]()  # the on-commit callback: the task runs as the worker would run it
        (result,) = applied
        assert entered == [True] and result.failed()
        with caplog.at_level(logging.DEBUG):
            report = report_of(failure_of(pipeline_fee_bump_run, order_id=order.pk, actor_id=scene.approver.pk,
                                          reason="stuck"))
        assert "withdrawal_fee_bump" in report and "build_and_sign" in report and "********************" in report
        assert_no_key(key, page, report, report_of(result.result), str(result.traceback), repr(result.result),
                      caplog.text)
        assert WithdrawalTransaction.objects.filter(order=order).count() == 1

        monkeypatch.setattr(evm_adapter, "to_units", _real_to_units)
        again = fee_bump.apply(args=[order.pk, scene.approver.pk, "stuck", first.tx_hash])
        assert again.successful() and again.result["outcome"] == "sent"
        assert_no_key(key, repr(again.result))
        twice = fee_bump.apply(args=[order.pk, scene.approver.pk, "stuck", first.tx_hash])
        assert twice.result["outcome"] == "skipped"  # delivered twice, bumped once
        assert WithdrawalTransaction.objects.filter(order=order).count() == 2


_real_to_units = evm_adapter.to_units


def test_the_key_file_must_be_0600_and_ours(tmp_path, settings, monkeypatch):
    monkeypatch.delenv("HOT_KEY_ETH", raising=False)
    settings.HOT_KEYS_FILE = tmp_path / "keys" / "hot_keys.json"
    hot_wallets._key_file.cache_clear()
    created_modes = []
    real_open = os.open

    def spy_open(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp"):
            created_modes.append((flags & (os.O_CREAT | os.O_EXCL)) == (os.O_CREAT | os.O_EXCL) and mode == 0o600)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(hot_wallets.os, "open", spy_open)
    assert hot_keys_ensure(["ETH"]) == ["ETH"]
    monkeypatch.setattr(hot_wallets.os, "open", real_open)
    assert created_modes == [True]  # created 0600 with O_CREAT|O_EXCL, never wider for a moment
    path = settings.HOT_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert len(hot_key("ETH")) == 32

    os.chmod(path, 0o644)
    hot_wallets._key_file.cache_clear()
    with pytest.raises(HotKeyFileUnsafe, match="mode 0644; it must be 0600"):
        hot_key("ETH")
    with pytest.raises(HotKeyFileUnsafe):
        hot_keys_ensure(["BTC"])

    os.chmod(path, 0o600)
    hot_wallets._key_file.cache_clear()
    monkeypatch.setattr(hot_wallets.os, "geteuid", lambda: os.getuid() + 1)
    with pytest.raises(HotKeyFileUnsafe, match="owned by uid"):
        hot_key("ETH")
    hot_wallets._key_file.cache_clear()
