"""What chains tells the apps above it, without knowing them."""

from django.dispatch import Signal

# Sent on commit when a kill switch is lifted; ``network_code`` is None for the global switch.
# The send pipeline (withdrawals) listens and gives the approved orders that waited to its task.
sending_resumed = Signal()

# Functions ``check(coin_id) -> str`` telling why a coin's decimals may not change now ("" when
# they may): withdrawals registers one (an order of the coin that is not finished).
coin_in_use_checks: list = []
