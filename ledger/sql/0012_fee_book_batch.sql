-- The fee bookings of a sweep's completions in one call: each item posts what
-- ledger_post_fee_book posts (same entry, legs, reference, request and idempotency, the same
-- shortfall rule), so a batch and the single function replay each other. Items are booked
-- grouped by tenant and currency (the accounts of one tenant locked before the next tenant's, the
-- same order in every batch), in the given order within a group: the main account's balance after
-- one booking decides the shortfall of the next. A refusal of any item refuses the whole call.
CREATE OR REPLACE FUNCTION ledger_post_fee_book_batch(p_items jsonb)
RETURNS TABLE(reference text, entry_id bigint, replayed boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r record;
    f record;
BEGIN
    FOR r IN
        SELECT i.tenant, i.currency, i.reserved, i.actual, i.reference, i.request
          FROM ROWS FROM (jsonb_to_recordset(p_items) AS (tenant bigint, currency text, reserved numeric,
                                                          actual numeric, reference text, request jsonb))
               WITH ORDINALITY AS i(tenant, currency, reserved, actual, reference, request, ord)
         ORDER BY i.tenant, i.currency, i.ord
    LOOP
        SELECT * INTO f FROM ledger_post_fee_book(r.tenant, r.currency, r.reserved, r.actual, r.reference, r.request);
        reference := r.reference;
        entry_id := f.entry_id;
        replayed := f.replayed;
        RETURN NEXT;
    END LOOP;
END $$;
