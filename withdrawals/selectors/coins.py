"""What the withdrawals know about a coin that chains must not decide alone."""

from __future__ import annotations

from withdrawals.models import WithdrawalOrder


def coin_unfinished_orders(coin_id: int) -> str:
    """Why a coin's precision or chain decimals may not change now: its orders that are not
    terminal were requested, approved and signed with them. "" when there is none."""
    count = WithdrawalOrder.objects.filter(coin_id=coin_id).exclude(status__in=WithdrawalOrder.TERMINAL).count()
    if not count:
        return ""
    return f"{count} withdrawal{'s' if count != 1 else ''} of this coin {'are' if count != 1 else 'is'} not finished"
