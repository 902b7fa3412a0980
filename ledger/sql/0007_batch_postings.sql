-- Batched postings: many entries in one call and one commit (bulk deposits, the settlement of a
-- sweep's completions). Each entry is the same as the one-by-one function would post (same kind,
-- legs, reference, request, idempotency); the guarantees are the same: accounts locked in
-- ascending id order, no overdraft (checked on the batch's net change per account, and by the
-- balance CHECK), every entry balanced (the deferred entry and leg checks run at commit as for any
-- posting), append-only. A refusal of any item refuses the whole batch (nothing changes).

-- The shared core: opens the entries (replays and conflicts as ledger_open_entry), locks the
-- accounts, checks the net change, inserts all legs in one statement (one balance update per
-- account). Legs name their entry by reference; legs of replayed entries are dropped.
CREATE OR REPLACE FUNCTION ledger_insert_batch(p_kind text, p_refs text[], p_tenants bigint[],
        p_customers bigint[], p_currencies text[], p_requests jsonb[], p_memos text[],
        p_leg_refs text[], p_leg_accounts bigint[], p_leg_amounts numeric[])
RETURNS TABLE(reference text, entry_id bigint, replayed boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    bad record;
    v_new_refs text[];
    v_new_ids bigint[];
    v_accounts bigint[];
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_refs) r WHERE coalesce(r, '') = '') THEN
        PERFORM ledger_raise('validation_error', 'A reference is required.', 'reference');
    END IF;
    SELECT r INTO bad FROM unnest(p_refs) r GROUP BY r HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_raise('validation_error', format('The reference %s appears twice in the batch.', bad.r),
                             'reference');
    END IF;
    WITH ins AS (
        INSERT INTO ledger_entry AS le (reference, kind, tenant_id, customer_id, currency, request, memo)
        SELECT u.ref, p_kind, u.tenant, u.customer, u.currency, u.request, coalesce(u.memo, '')
          FROM unnest(p_refs, p_tenants, p_customers, p_currencies, p_requests, p_memos)
               WITH ORDINALITY AS u(ref, tenant, customer, currency, request, memo, ord)
         ORDER BY u.ord
        ON CONFLICT (reference) DO NOTHING
        RETURNING le.id, le.reference)
    SELECT array_agg(ins.reference::text), array_agg(ins.id) INTO v_new_refs, v_new_ids FROM ins;
    v_new_refs := coalesce(v_new_refs, '{}');
    v_new_ids := coalesce(v_new_ids, '{}');
    IF cardinality(v_new_refs) < cardinality(p_refs) THEN  -- replays: the same request, or a conflict
        SELECT e.reference, e.request INTO bad
          FROM unnest(p_refs, p_requests) AS u(ref, request)
          LEFT JOIN unnest(v_new_refs) AS n(ref) ON n.ref = u.ref
          JOIN ledger_entry e ON e.reference = u.ref
         WHERE n.ref IS NULL AND e.request IS DISTINCT FROM u.request
         LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_raise('ledger_reference_conflict',
                format('The reference %s was already used for another posting (%s).', bad.reference, bad.request),
                'reference');
        END IF;
        -- only the legs of the entries opened now (hash joins: a batch is large)
        SELECT array_agg(u.ref ORDER BY u.ord), array_agg(u.acc ORDER BY u.ord), array_agg(u.amt ORDER BY u.ord)
          INTO p_leg_refs, p_leg_accounts, p_leg_amounts
          FROM unnest(p_leg_refs, p_leg_accounts, p_leg_amounts) WITH ORDINALITY AS u(ref, acc, amt, ord)
          JOIN unnest(v_new_refs) AS n(ref) ON n.ref = u.ref;
    END IF;
    IF cardinality(v_new_refs) > 0 THEN
        SELECT array_agg(DISTINCT acc ORDER BY acc) INTO v_accounts FROM unnest(p_leg_accounts) AS acc;
        PERFORM 1 FROM ledger_account WHERE id = ANY(v_accounts) ORDER BY id FOR UPDATE;
        SELECT a.kind, a.instrument, a.currency, a.balance, -a.normal_sign * d.delta AS needed INTO bad
          FROM (SELECT u.acc, sum(u.amt) AS delta FROM unnest(p_leg_accounts, p_leg_amounts) AS u(acc, amt)
                 GROUP BY u.acc) d
          JOIN ledger_account a ON a.id = d.acc
         WHERE a.balance + a.normal_sign * d.delta < 0 AND a.kind <> 'external'
         ORDER BY a.id LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_raise(
                CASE WHEN bad.kind = 'main_account' THEN 'insufficient_main_account_fees' ELSE 'insufficient_balance' END,
                format('The %s account%s holds %s %s, %s is needed by the batch.', bad.kind,
                       CASE WHEN bad.instrument <> '' THEN ' ' || bad.instrument ELSE '' END,
                       trim_scale(bad.balance), bad.currency, trim_scale(bad.needed)));
        END IF;
        -- The legs of this one statement all belong to entries it has just opened, whose own deferred
        -- check covers them: the per-leg check is not queued for them (the trigger's WHEN), exactly as
        -- for the entry a single posting opens. Switched off again right after the statement, so a
        -- leg inserted later in the transaction is checked leg by leg as always.
        PERFORM set_config('ledger.batch_legs', 'on', true);
        INSERT INTO ledger_leg (entry_id, account_id, currency, amount)
        SELECT n.id, u.acc, c.currency, u.amt
          FROM unnest(p_leg_refs, p_leg_accounts, p_leg_amounts) WITH ORDINALITY AS u(ref, acc, amt, ord)
          JOIN unnest(v_new_refs, v_new_ids) AS n(ref, id) ON n.ref = u.ref
          JOIN unnest(p_refs, p_currencies) AS c(ref, currency) ON c.ref = u.ref
         WHERE u.amt <> 0
         ORDER BY n.id, u.ord;
        PERFORM set_config('ledger.batch_legs', '', true);
    END IF;
    RETURN QUERY
        SELECT u.ref, coalesce(n.id, e.id), n.id IS NULL
          FROM unnest(p_refs) WITH ORDINALITY AS u(ref, ord)
          LEFT JOIN unnest(v_new_refs, v_new_ids) AS n(ref, id) ON n.ref = u.ref
          LEFT JOIN ledger_entry e ON n.id IS NULL AND e.reference = u.ref
         ORDER BY u.ord;
END $$;

-- Many settlements of withdrawals (ledger_post_settle, item by item): p_items is a JSON array of
-- {"customer", "tenant", "currency", "split": [[instrument, amount], ...], "customer_fee",
--  "reference", "request"}.
CREATE OR REPLACE FUNCTION ledger_post_settle_batch(p_items jsonb)
RETURNS TABLE(reference text, entry_id bigint, replayed boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    bad record;
    v_refs text[]; v_tenants bigint[]; v_customers bigint[]; v_currencies text[]; v_requests jsonb[];
    v_memos text[];
    v_leg_refs text[]; v_leg_accounts bigint[]; v_leg_amounts numeric[];
    v_missing text;
BEGIN
    SELECT array_agg(i.reference ORDER BY i.ord), array_agg(i.tenant ORDER BY i.ord),
           array_agg(i.customer ORDER BY i.ord), array_agg(i.currency ORDER BY i.ord),
           array_agg(i.request ORDER BY i.ord), array_agg(''::text ORDER BY i.ord)
      INTO v_refs, v_tenants, v_customers, v_currencies, v_requests, v_memos
      FROM ROWS FROM (jsonb_to_recordset(p_items) AS (customer bigint, tenant bigint, currency text, customer_fee numeric, reference text, request jsonb, split jsonb)) WITH ORDINALITY AS i(customer, tenant, currency, customer_fee, reference, request, split, ord);
    IF v_refs IS NULL THEN
        RETURN;
    END IF;
    -- amounts: every split line > 0, the fee >= 0, within the currency's decimals, fee < total
    WITH i AS (SELECT * FROM jsonb_to_recordset(p_items) AS x(currency text, customer_fee numeric, reference text,
                                                              split jsonb)),
         s AS (SELECT i.reference, i.currency, i.customer_fee, (l.line->>1)::numeric AS amount
                 FROM i CROSS JOIN LATERAL jsonb_array_elements(i.split) AS l(line))
    SELECT q.reference, q.field, q.amount INTO bad FROM (
        SELECT s.reference, 'split' AS field, s.amount FROM s LEFT JOIN chains_currency c ON c.code = s.currency
         WHERE c.code IS NULL OR s.amount IS NULL OR s.amount <= 0 OR scale(trim_scale(s.amount)) > c.decimals
        UNION ALL
        SELECT i.reference, 'customer_fee', i.customer_fee FROM i LEFT JOIN chains_currency c ON c.code = i.currency
         WHERE c.code IS NULL OR i.customer_fee IS NULL OR i.customer_fee < 0
            OR scale(trim_scale(i.customer_fee)) > c.decimals
            OR i.customer_fee >= (SELECT sum((l.line->>1)::numeric) FROM jsonb_array_elements(i.split) l(line))
            OR jsonb_array_length(i.split) = 0) q LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_raise('validation_error',
            format('Settlement %s: the %s %s is not a valid amount (or leaves no principal).', bad.reference,
                   bad.field, coalesce(bad.amount::text, 'null')), bad.field);
    END IF;
    -- legs: Dr held per split line, Cr tenant sub-account (principal), Cr fee revenue (fee)
    WITH i AS (SELECT *, (SELECT sum((l.line->>1)::numeric) FROM jsonb_array_elements(x.split) l(line)) AS total
                 FROM ROWS FROM (jsonb_to_recordset(p_items) AS (customer bigint, tenant bigint, currency text, customer_fee numeric, reference text, split jsonb)) WITH ORDINALITY AS x(customer, tenant, currency, customer_fee, reference, split, ord)),
         t AS (SELECT DISTINCT i.tenant, i.currency FROM i),
         ta AS (SELECT t.tenant, t.currency, ledger_tenant_account(t.tenant, t.currency, 'sub_account') AS sub,
                       ledger_tenant_account(t.tenant, t.currency, 'fee_revenue') AS revenue FROM t),
         legs AS (
            SELECT i.ord, l.n AS sub_ord, i.reference, h.id AS account, (l.line->>1)::numeric AS amount,
                   l.line->>0 AS instrument
              FROM i CROSS JOIN LATERAL jsonb_array_elements(i.split) WITH ORDINALITY AS l(line, n)
              LEFT JOIN ledger_account h ON h.customer_id = i.customer AND h.currency = i.currency
                                        AND h.kind = 'customer_held' AND h.instrument = l.line->>0
            UNION ALL
            SELECT i.ord, 1000001, i.reference, ta.sub, -(i.total - i.customer_fee), NULL
              FROM i JOIN ta ON ta.tenant = i.tenant AND ta.currency = i.currency
            UNION ALL
            SELECT i.ord, 1000002, i.reference, ta.revenue, -i.customer_fee, NULL
              FROM i JOIN ta ON ta.tenant = i.tenant AND ta.currency = i.currency)
    SELECT array_agg(legs.reference ORDER BY legs.ord, legs.sub_ord), array_agg(legs.account ORDER BY legs.ord, legs.sub_ord),
           array_agg(legs.amount ORDER BY legs.ord, legs.sub_ord),
           min(legs.reference || ' ' || legs.instrument) FILTER (WHERE legs.account IS NULL)
      INTO v_leg_refs, v_leg_accounts, v_leg_amounts, v_missing
      FROM legs;
    IF v_missing IS NOT NULL THEN
        PERFORM ledger_raise('validation_error', format('Settlement %s: the customer has no position.', v_missing),
                             'split');
    END IF;
    RETURN QUERY SELECT * FROM ledger_insert_batch('settle', v_refs, v_tenants, v_customers, v_currencies,
                                                   v_requests, v_memos, v_leg_refs, v_leg_accounts, v_leg_amounts);
END $$;

-- Many deposits (ledger_post_deposit, item by item): p_items is a JSON array of
-- {"customer", "currency", "quote", "amount", "reference", "memo", "request"}.
CREATE OR REPLACE FUNCTION ledger_post_deposit_batch(p_items jsonb)
RETURNS TABLE(reference text, entry_id bigint, replayed boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    bad record;
    r record;
    c record;
    v_refs text[]; v_tenants bigint[]; v_customers bigint[]; v_currencies text[]; v_requests jsonb[];
    v_memos text[];
    v_leg_refs text[] := '{}'; v_leg_accounts bigint[] := '{}'; v_leg_amounts numeric[] := '{}';
BEGIN
    SELECT i.reference, i.customer, i.quote, i.amount, t.id AS tenant, cur.code AS known INTO bad
      FROM jsonb_to_recordset(p_items) AS i(customer bigint, currency text, quote text, amount numeric,
                                           reference text)
      LEFT JOIN customers_customer cu ON cu.id = i.customer
      LEFT JOIN customers_tenant t ON t.id = cu.tenant_id
      LEFT JOIN chains_currency cur ON cur.code = i.currency
     WHERE t.id IS NULL OR cur.code IS NULL OR i.amount IS NULL OR i.amount <= 0
        OR scale(trim_scale(i.amount)) > cur.decimals OR NOT (i.quote = ANY(t.quote_currencies))
     LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_raise('validation_error',
            format('Deposit %s: no such customer, currency or quote currency, or the amount %s is not valid.',
                   bad.reference, coalesce(bad.amount::text, 'null')), 'amount');
    END IF;
    FOR r IN
        SELECT i.ord, i.reference, i.customer, t.id AS tenant, i.currency, i.amount, i.request,
               coalesce(i.memo, '') AS memo, format('VA/%s/%s%s', t.venue_code, i.currency, i.quote) AS instrument
          FROM ROWS FROM (jsonb_to_recordset(p_items) AS (customer bigint, currency text, quote text, amount numeric, reference text, memo text, request jsonb)) WITH ORDINALITY AS i(customer, currency, quote, amount, reference, memo, request, ord)
          JOIN customers_customer cu ON cu.id = i.customer JOIN customers_tenant t ON t.id = cu.tenant_id
         ORDER BY i.ord
    LOOP
        c := ledger_customer_accounts(r.tenant, r.customer, r.currency, r.instrument);
        v_refs := v_refs || r.reference; v_tenants := v_tenants || r.tenant; v_customers := v_customers || r.customer;
        v_currencies := v_currencies || r.currency; v_requests := v_requests || r.request;
        v_memos := v_memos || r.memo;
        v_leg_refs := v_leg_refs || r.reference || r.reference;
        v_leg_accounts := v_leg_accounts || ledger_tenant_account(r.tenant, r.currency, 'sub_account') || c.available_id;
        v_leg_amounts := v_leg_amounts || r.amount || -r.amount;
    END LOOP;
    IF v_refs IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM ledger_insert_batch('deposit', v_refs, v_tenants, v_customers, v_currencies,
                                                   v_requests, v_memos, v_leg_refs, v_leg_accounts, v_leg_amounts);
END $$;

-- The per-leg deferred check skips the legs of the entry a posting function has just opened
-- (0005) and, now, the legs of a batch's one leg INSERT (ledger_insert_batch).
DROP TRIGGER ledger_leg_balanced ON ledger_leg;
CREATE CONSTRAINT TRIGGER ledger_leg_balanced AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.entry_id::text IS DISTINCT FROM current_setting('ledger.open_entry', true)
          AND current_setting('ledger.batch_legs', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION ledger_leg_balanced();
