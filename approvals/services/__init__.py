"""Approvals services: one module per subject of the engine.

* ``work_orders``: open, decide, cancel, and the events of a work order;
* ``flows``: flow versions (copy, activate);
* ``fee_reserve``: the fee-reserve requests (main-account top-up, sub → main transfer).

The recipe of every service: one ``transaction.atomic`` (joining the caller's when there is
one), the row locked with ``select_for_update``, the rule checked (``approvals.rules``), then the
change with its audit rows (``WorkOrderEvent``, ``WorkOrderDecision``). A refusal raises a
``DomainError`` and leaves nothing changed.
"""
