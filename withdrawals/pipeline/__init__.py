"""The send pipeline: approved withdrawals to the chain exactly once, followed to completion.

Called by the Celery tasks of ``withdrawals.tasks`` (docs/PIPELINE.md tells the whole story).
The state moves themselves are ``withdrawals.services.sending``; the modules here talk to the
node and decide which move to make:

* ``send``: ``pipeline_send`` claims an approved order, honours the kill switches, reserves the
  fee, signs and stores ONE transaction, and only after that commit broadcasts it; a retry
  re-sends the stored transaction, never a new signature. ``pipeline_requeue_approved`` gives
  approved orders nobody works on back to the send task.
* ``sweep``: ``pipeline_sweep`` follows every broadcasting (stale) and confirming order per
  network in batches: one ``tx_statuses`` call per batch, then one service call per move.
* ``fee_bump``: staff replace a stuck transaction with one paying more (same nonce / RBF).
* ``kinds``: what differs per network kind (EVM nonce, BTC inputs, TRON expiry).
* ``nonces``, ``utxos``: the hot wallets' nonce allocator and tracked BTC outputs.
* ``faults``: the test-only fault injection points.
"""
