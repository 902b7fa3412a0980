-- Fewer writes per posting, same guarantees (docs/LEDGER.md, docs/PERFORMANCE.md "Ledger holds").
--
-- 1. Securities posting records are derived from the legs instead of copied by the leg trigger:
--    ledger_securities_posting becomes a view (one row per leg on a customer instrument account,
--    id = leg id), and what staff marked synced lives in ledger_securities_sync (one row per marked
--    record, written when staff mark it, never on the posting path; append-only). A leg cannot
--    exist without its record, and a record cannot disagree with its leg.
-- 2. The leg trigger only moves balances (one statement per posting).
-- 3. The per-leg deferred balance check is not even queued for the legs of the entry a posting
--    function has just opened (announced in ledger.open_entry = its id): that entry's own deferred
--    check covers every leg it has at commit. The check clears the announcement when it runs, so a
--    leg added after it (SET CONSTRAINTS ALL IMMEDIATE, then more legs) is checked again.

-- --- 1. securities: sync state table filled from the old records, then the view ------------------

INSERT INTO ledger_securities_sync (leg_id, synced_at, synced_by_id)
SELECT leg_id, synced_at, synced_by_id FROM ledger_securities_posting WHERE synced_at IS NOT NULL;

DROP TABLE ledger_securities_posting;

CREATE VIEW ledger_securities_posting AS
SELECT l.id AS leg_id,
       l.entry_id,
       e.reference,
       a.customer_id,
       a.instrument,
       l.currency,
       a.kind AS account_kind,
       (a.normal_sign * l.amount)::numeric(38, 18) AS quantity,
       e.created_at,
       s.synced_at,
       s.synced_by_id
  FROM ledger_leg l
  JOIN ledger_account a ON a.id = l.account_id AND a.customer_id IS NOT NULL
  JOIN ledger_entry e ON e.id = l.entry_id
  LEFT JOIN ledger_securities_sync s ON s.leg_id = l.id;

-- Marking a record synced is final: the sync rows refuse UPDATE and DELETE like the journal.
CREATE TRIGGER ledger_securities_sync_append_only BEFORE UPDATE OR DELETE ON ledger_securities_sync
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- --- 2. the leg trigger: balances only ----------------------------------------------------------

CREATE OR REPLACE FUNCTION ledger_legs_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n_accounts integer;
    n_updated integer;
    bad record;
BEGIN
    WITH d AS (
        SELECT account_id, currency, sum(amount) AS delta FROM new_legs GROUP BY account_id, currency
    ), u AS (
        UPDATE ledger_account a SET balance = a.balance + a.normal_sign * d.delta
          FROM d WHERE a.id = d.account_id AND a.currency = d.currency
        RETURNING a.id
    )
    SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u) INTO n_accounts, n_updated;
    IF n_updated < n_accounts THEN
        SELECT l.entry_id, l.account_id, l.currency INTO bad
          FROM new_legs l LEFT JOIN ledger_account a ON a.id = l.account_id AND a.currency = l.currency
         WHERE a.id IS NULL LIMIT 1;
        RAISE EXCEPTION 'ledger: leg of entry % names account % in %, which is not an account in that currency',
            bad.entry_id, bad.account_id, bad.currency USING ERRCODE = '23L07';
    END IF;
    RETURN NULL;
END $$;

-- --- 3. the deferred checks ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ledger_assert_balanced(p_entry bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    n integer;
    v_last bigint;
    v_currency text;
    v_other text;
    v_sum numeric;
BEGIN
    -- From here on, legs added to this entry are checked leg by leg (see the leg trigger's WHEN).
    IF current_setting('ledger.open_entry', true) = p_entry::text THEN
        PERFORM set_config('ledger.open_entry', '', true);
    END IF;
    SELECT count(*), max(id), min(currency), max(currency), sum(amount)
      INTO n, v_last, v_currency, v_other, v_sum
      FROM ledger_leg WHERE entry_id = p_entry;
    IF n < 2 THEN
        RAISE EXCEPTION 'ledger: entry % has % leg(s); an entry needs at least two', p_entry, n
            USING ERRCODE = '23L06';
    END IF;
    IF v_currency = v_other THEN  -- one currency (the usual case): its sum is the whole sum
        IF v_sum <> 0 THEN
            RAISE EXCEPTION 'ledger: entry % is unbalanced: its % legs sum to %, not 0', p_entry, v_currency, v_sum
                USING ERRCODE = '23L06';
        END IF;
        PERFORM set_config('ledger.checked_entry', p_entry || ':' || v_last, true);
        RETURN;
    END IF;
    SELECT currency, sum(amount) AS total INTO bad
      FROM ledger_leg WHERE entry_id = p_entry GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % is unbalanced: its % legs sum to %, not 0', p_entry, bad.currency, bad.total
            USING ERRCODE = '23L06';
    END IF;
    PERFORM set_config('ledger.checked_entry', p_entry || ':' || v_last, true);
END $$;

DROP TRIGGER ledger_leg_balanced ON ledger_leg;
CREATE CONSTRAINT TRIGGER ledger_leg_balanced AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.entry_id::text IS DISTINCT FROM current_setting('ledger.open_entry', true))
    EXECUTE FUNCTION ledger_leg_balanced();

-- The announcement is the entry id alone (the reference was for the securities copy).
CREATE OR REPLACE FUNCTION ledger_open_entry(
    p_reference text, p_kind text, p_tenant bigint, p_customer bigint, p_currency text, p_request jsonb,
    p_memo text, OUT entry_id bigint, OUT created_at timestamptz, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_request jsonb;
BEGIN
    IF p_reference IS NULL OR p_reference = '' THEN
        PERFORM ledger_raise('validation_error', 'A reference is required.', 'reference');
    END IF;
    INSERT INTO ledger_entry AS e (reference, kind, tenant_id, customer_id, currency, request, memo)
    VALUES (p_reference, p_kind, p_tenant, p_customer, p_currency, p_request, coalesce(p_memo, ''))
    ON CONFLICT (reference) DO NOTHING
    RETURNING e.id, e.created_at INTO entry_id, created_at;
    IF entry_id IS NOT NULL THEN
        replayed := false;
        PERFORM set_config('ledger.open_entry', entry_id::text, true);
        RETURN;
    END IF;
    SELECT e.id, e.created_at, e.request INTO entry_id, created_at, v_request
      FROM ledger_entry e WHERE e.reference = p_reference;
    IF v_request IS DISTINCT FROM p_request THEN
        PERFORM ledger_raise('ledger_reference_conflict',
            format('The reference %s was already used for another posting (%s).', p_reference, v_request),
            'reference');
    END IF;
    replayed := true;
END $$;

-- Hold: available -> held, largest available balance first; ties: instrument code ascending.
-- Returns the split (one row per instrument, in waterfall order). One statement locks the
-- customer's accounts of the currency (ascending id) and reads them.
CREATE OR REPLACE FUNCTION ledger_post_hold(p_customer bigint, p_tenant bigint, p_currency text, p_amount numeric,
    p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, replayed boolean, instrument text, amount numeric) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    r record;
    v_left numeric := p_amount;
    v_take numeric;
    v_total numeric := 0;
    v_accounts bigint[] := '{}';
    v_amounts numeric[] := '{}';
    v_instruments text[] := '{}';
    v_split numeric[] := '{}';
    v_decimals integer;
BEGIN
    IF coalesce(p_reference, '') = '' THEN
        PERFORM ledger_raise('validation_error', 'A reference is required.', 'reference');
    END IF;
    -- ledger_check_amount and ledger_open_entry, inlined (the hot path)
    SELECT decimals INTO v_decimals FROM chains_currency WHERE code = p_currency;
    IF NOT FOUND OR p_amount IS NULL OR p_amount <= 0 OR scale(trim_scale(p_amount)) > v_decimals THEN
        PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    END IF;
    INSERT INTO ledger_entry AS le (reference, kind, tenant_id, customer_id, currency, request, memo)
    VALUES (p_reference, 'hold', p_tenant, p_customer, p_currency, p_request, '')
    ON CONFLICT (reference) DO NOTHING
    RETURNING le.id AS entry_id, false AS replayed INTO e;
    IF FOUND THEN
        PERFORM set_config('ledger.open_entry', e.entry_id::text, true);
    ELSE
        e := ledger_open_entry(p_reference, 'hold', p_tenant, p_customer, p_currency, p_request, '');
    END IF;
    IF e.replayed THEN
        RETURN QUERY
            SELECT e.entry_id, true, a.instrument::text, -l.amount
              FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id
             WHERE l.entry_id = e.entry_id AND a.kind = 'customer_held'
             ORDER BY l.id;
        RETURN;
    END IF;
    FOR r IN
        WITH locked AS MATERIALIZED (
            SELECT a.id, a.kind, a.instrument, a.balance FROM ledger_account a
             WHERE a.customer_id = p_customer AND a.currency = p_currency
               AND a.kind IN ('customer_available', 'customer_held')
             ORDER BY a.id FOR UPDATE)
        SELECT av.id AS available_id, h.id AS held_id, av.balance, av.instrument
          FROM locked av JOIN locked h ON h.instrument = av.instrument AND h.kind = 'customer_held'
         WHERE av.kind = 'customer_available' AND av.balance > 0
         ORDER BY av.balance DESC, av.instrument ASC
    LOOP
        EXIT WHEN v_left = 0;
        v_total := v_total + r.balance;
        v_take := least(r.balance, v_left);
        v_accounts := v_accounts || r.available_id || r.held_id;
        v_amounts := v_amounts || v_take || -v_take;
        v_instruments := v_instruments || r.instrument::text;
        v_split := v_split || v_take;
        v_left := v_left - v_take;
    END LOOP;
    IF v_left > 0 THEN
        PERFORM ledger_raise('insufficient_balance',
            format('The available %s balance (%s) does not cover %s.', p_currency, trim_scale(v_total),
                   trim_scale(p_amount)), 'amount');
    END IF;
    INSERT INTO ledger_leg (entry_id, account_id, currency, amount)
    SELECT e.entry_id, u.acc, p_currency, u.amt
      FROM unnest(v_accounts, v_amounts) WITH ORDINALITY AS u(acc, amt, ord) ORDER BY u.ord;
    RETURN QUERY SELECT e.entry_id, false, u.i, u.m FROM unnest(v_instruments, v_split) AS u(i, m);
END $$;

-- --- 4. balances updated in place: room on each page for HOT updates ------------------------------
-- (applies to pages written from now on; VACUUM FULL ledger_account repacks an existing table)
ALTER TABLE ledger_account SET (fillfactor = 70);
