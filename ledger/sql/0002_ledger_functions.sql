-- The ledger's database side: guards (append-only, balanced entries, balances only through legs)
-- and one PL/pgSQL function per posting, so that a posting is one round trip.
--
-- Errors meant for the caller are raised with SQLSTATE LDG00: MESSAGE is the public error code,
-- DETAIL the human text, HINT the field (if any). ledger/services.py turns them into DomainError.
-- Integrity violations (an UPDATE of a leg, an unbalanced entry) use 23L05 / 23L06 / 23L07 (class 23: integrity violation) and
-- stay database errors: they are bugs, not refusals.
--
-- Sign convention: leg.amount > 0 is a debit, < 0 a credit; account.balance = normal_sign * sum(legs).
-- Deadlock freedom: every posting locks the accounts it touches in ascending id order in one
-- statement (SELECT ... ORDER BY id FOR UPDATE) before it reads or changes a balance. Accounts are
-- created (first use only) before any lock is taken, in a fixed order (tenant accounts, then the
-- customer's available+held pair).

CREATE OR REPLACE FUNCTION ledger_raise(p_code text, p_detail text, p_field text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'LDG00', MESSAGE = p_code, DETAIL = coalesce(p_detail, ''),
        HINT = coalesce(p_field, '');
END $$;

-- ---------------------------------------------------------------------------------------------
-- Guards
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is refused: the ledger is append-only (post a correcting entry)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = '23L05';
END $$;

CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_leg_append_only BEFORE UPDATE OR DELETE ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
-- Accounts are never deleted, and nothing but the leg trigger below may update one (its balance):
-- a direct UPDATE runs at trigger depth 0 and is refused.
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_no_direct_update BEFORE UPDATE ON ledger_account
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION ledger_refuse_change();

-- A leg moves its account's balance (normal side) and, on a customer instrument account, yields the
-- securities posting record.
CREATE OR REPLACE FUNCTION ledger_leg_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    a record;
    v_reference text;
    v_open text;
BEGIN
    -- The entry opened by a posting function is announced in ledger.open_entry ("<id>:<reference>"),
    -- which spares a lookup per leg; any other entry is looked up (and must exist).
    v_open := current_setting('ledger.open_entry', true);
    IF coalesce(v_open, '') <> '' AND split_part(v_open, ':', 1) = NEW.entry_id::text THEN
        v_reference := substr(v_open, length(split_part(v_open, ':', 1)) + 2);
    ELSE
        SELECT reference INTO v_reference FROM ledger_entry WHERE id = NEW.entry_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger: leg names entry %, which does not exist', NEW.entry_id USING ERRCODE = '23L07';
        END IF;
    END IF;
    UPDATE ledger_account SET balance = balance + normal_sign * NEW.amount
     WHERE id = NEW.account_id AND currency = NEW.currency
    RETURNING customer_id, instrument, kind, normal_sign INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger: leg of entry % names account % in %, which is not an account in that currency',
            NEW.entry_id, NEW.account_id, NEW.currency USING ERRCODE = '23L07';
    END IF;
    IF a.customer_id IS NOT NULL THEN
        INSERT INTO ledger_securities_posting
            (leg_id, entry_id, reference, customer_id, instrument, currency, account_kind, quantity)
        VALUES (NEW.id, NEW.entry_id, v_reference, a.customer_id, a.instrument, NEW.currency, a.kind,
                a.normal_sign * NEW.amount);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_leg_apply AFTER INSERT ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_leg_apply();

-- At commit: an entry has at least two legs and they sum to zero per currency. Checked once per
-- entry: the check records (entry, last leg id) in a transaction-local setting, and the leg-level
-- trigger skips the legs that check has already covered. A leg added later (even after
-- SET CONSTRAINTS ALL IMMEDIATE) has a higher id and is checked again with its entry.
CREATE OR REPLACE FUNCTION ledger_assert_balanced(p_entry bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    n integer;
    v_last bigint;
    v_currency text;
    v_other text;
    v_sum numeric;
BEGIN
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

CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_assert_balanced(NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ledger_leg_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_checked text := current_setting('ledger.checked_entry', true);
BEGIN
    IF coalesce(v_checked, '') <> '' AND split_part(v_checked, ':', 1)::bigint = NEW.entry_id
       AND NEW.id <= split_part(v_checked, ':', 2)::bigint THEN
        RETURN NULL;
    END IF;
    PERFORM ledger_assert_balanced(NEW.entry_id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE CONSTRAINT TRIGGER ledger_leg_balanced AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_leg_balanced();

-- ---------------------------------------------------------------------------------------------
-- Building blocks of the posting functions
-- ---------------------------------------------------------------------------------------------

-- Amount checks against the currency's decimals (never rounded: numeric(38,18) would round).
CREATE OR REPLACE FUNCTION ledger_check_amount(p_currency text, p_amount numeric, p_field text,
                                               p_zero_ok boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_decimals integer;
BEGIN
    SELECT decimals INTO v_decimals FROM chains_currency WHERE code = p_currency;
    IF NOT FOUND THEN
        PERFORM ledger_raise('unknown_currency', format('No currency %s.', p_currency), 'currency');
    END IF;
    IF p_amount IS NULL OR p_amount < 0 OR (p_amount = 0 AND NOT p_zero_ok) THEN
        PERFORM ledger_raise('amount_not_positive', format('The %s must be greater than zero.', p_field), p_field);
    END IF;
    IF scale(trim_scale(p_amount)) > v_decimals THEN
        PERFORM ledger_raise('amount_precision',
            format('%s %s has more than the %s decimals of %s.', p_field, p_amount, v_decimals, p_currency), p_field);
    END IF;
END $$;

-- Opens the entry, or finds the one already posted under the reference (a replay). A replay with
-- other arguments is a conflict. The unique index serialises concurrent calls with one reference.
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
        PERFORM set_config('ledger.open_entry', entry_id || ':' || p_reference, true);
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

-- The tenant's account of a kind in a currency, created on first use.
CREATE OR REPLACE FUNCTION ledger_tenant_account(p_tenant bigint, p_currency text, p_kind text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM ledger_account
     WHERE tenant_id = p_tenant AND currency = p_currency AND kind = p_kind AND customer_id IS NULL;
    IF v_id IS NULL THEN
        INSERT INTO ledger_account (tenant_id, customer_id, currency, instrument, kind, balance)
        VALUES (p_tenant, NULL, p_currency, '', p_kind, 0) ON CONFLICT DO NOTHING RETURNING id INTO v_id;
        IF v_id IS NULL THEN
            SELECT id INTO v_id FROM ledger_account
             WHERE tenant_id = p_tenant AND currency = p_currency AND kind = p_kind AND customer_id IS NULL;
        END IF;
    END IF;
    RETURN v_id;
END $$;

-- The customer's available and held accounts of an instrument, created together on first use.
CREATE OR REPLACE FUNCTION ledger_customer_accounts(p_tenant bigint, p_customer bigint, p_currency text,
    p_instrument text, OUT available_id bigint, OUT held_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    FOREACH k IN ARRAY ARRAY['customer_available', 'customer_held'] LOOP
        INSERT INTO ledger_account (tenant_id, customer_id, currency, instrument, kind, balance)
        SELECT p_tenant, p_customer, p_currency, p_instrument, k, 0
         WHERE NOT EXISTS (SELECT 1 FROM ledger_account WHERE customer_id = p_customer AND currency = p_currency
                                                          AND kind = k AND instrument = p_instrument)
        ON CONFLICT DO NOTHING;
    END LOOP;
    SELECT max(id) FILTER (WHERE kind = 'customer_available'), max(id) FILTER (WHERE kind = 'customer_held')
      INTO available_id, held_id
      FROM ledger_account
     WHERE customer_id = p_customer AND currency = p_currency AND instrument = p_instrument
       AND kind IN ('customer_available', 'customer_held');
END $$;

CREATE OR REPLACE FUNCTION ledger_lock(p_accounts bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM ledger_account WHERE id = ANY(p_accounts) ORDER BY id FOR UPDATE;
END $$;

-- Inserts the legs of an entry: locks the accounts (ascending id), refuses an overdraft with a
-- domain error naming the account, then inserts (the leg trigger moves the balances).
CREATE OR REPLACE FUNCTION ledger_insert_legs(p_entry bigint, p_currency text, p_accounts bigint[],
                                              p_amounts numeric[], p_locked boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF NOT p_locked THEN
        PERFORM ledger_lock(p_accounts);
    END IF;
    SELECT a.kind, a.instrument, a.balance, -a.normal_sign * d.delta AS needed INTO bad
      FROM (SELECT acc, sum(amt) AS delta FROM unnest(p_accounts, p_amounts) AS u(acc, amt) GROUP BY acc) d
      JOIN ledger_account a ON a.id = d.acc
     WHERE a.balance + a.normal_sign * d.delta < 0 AND a.kind <> 'external'
     ORDER BY a.id LIMIT 1;
    IF FOUND THEN
        IF bad.kind = 'main_account' THEN
            PERFORM ledger_raise('insufficient_main_account_fees',
                format('Insufficient main account fees: the main account holds %s %s, %s is needed.',
                       trim_scale(bad.balance), p_currency, trim_scale(bad.needed)));
        END IF;
        PERFORM ledger_raise('insufficient_balance',
            format('The %s account%s holds %s %s, %s is needed.', bad.kind,
                   CASE WHEN bad.instrument <> '' THEN ' ' || bad.instrument ELSE '' END,
                   trim_scale(bad.balance), p_currency, trim_scale(bad.needed)));
    END IF;
    INSERT INTO ledger_leg (entry_id, account_id, currency, amount)
    SELECT p_entry, acc, p_currency, amt
      FROM unnest(p_accounts, p_amounts) WITH ORDINALITY AS u(acc, amt, ord)
     WHERE amt <> 0
     ORDER BY ord;
END $$;

-- The customer's instrument accounts for a split; a line naming no account of the customer is refused.
CREATE OR REPLACE FUNCTION ledger_split_accounts(p_customer bigint, p_currency text, p_instruments text[],
    OUT available_ids bigint[], OUT held_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    v_missing text;
BEGIN
    SELECT array_agg(a.id ORDER BY u.ord), array_agg(h.id ORDER BY u.ord),
           min(u.instrument) FILTER (WHERE a.id IS NULL OR h.id IS NULL)
      INTO available_ids, held_ids, v_missing
      FROM unnest(p_instruments) WITH ORDINALITY AS u(instrument, ord)
      LEFT JOIN ledger_account a ON a.customer_id = p_customer AND a.currency = p_currency
                                AND a.kind = 'customer_available' AND a.instrument = u.instrument
      LEFT JOIN ledger_account h ON h.customer_id = p_customer AND h.currency = p_currency
                                AND h.kind = 'customer_held' AND h.instrument = u.instrument;
    IF v_missing IS NOT NULL OR available_ids IS NULL THEN
        PERFORM ledger_raise('validation_error',
            format('The customer has no %s position %s.', p_currency, coalesce(v_missing, '(empty split)')), 'split');
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Postings (one per service of ledger/services.py)
-- ---------------------------------------------------------------------------------------------

-- Deposit: Dr tenant sub-account / Cr customer available on VA/<venue>/<currency><quote>.
CREATE OR REPLACE FUNCTION ledger_post_deposit(p_customer bigint, p_currency text, p_quote text, p_amount numeric,
    p_reference text, p_memo text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_tenant bigint;
    v_venue text;
    v_quotes text[];
    v_instrument text;
    v_sub bigint;
    c record;
    e record;
BEGIN
    SELECT t.id, t.venue_code, t.quote_currencies INTO v_tenant, v_venue, v_quotes
      FROM customers_customer cu JOIN customers_tenant t ON t.id = cu.tenant_id WHERE cu.id = p_customer;
    IF NOT FOUND THEN
        PERFORM ledger_raise('not_found', 'No such customer.', 'customer');
    END IF;
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    IF NOT (p_quote = ANY(v_quotes)) THEN
        PERFORM ledger_raise('validation_error',
            format('%s is not one of the tenant''s quote currencies (%s).', p_quote, array_to_string(v_quotes, ', ')),
            'quote');
    END IF;
    e := ledger_open_entry(p_reference, 'deposit', v_tenant, p_customer, p_currency, p_request, p_memo);
    IF NOT e.replayed THEN
        v_instrument := format('VA/%s/%s%s', v_venue, p_currency, p_quote);
        v_sub := ledger_tenant_account(v_tenant, p_currency, 'sub_account');
        c := ledger_customer_accounts(v_tenant, p_customer, p_currency, v_instrument);
        PERFORM ledger_insert_legs(e.entry_id, p_currency, ARRAY[v_sub, c.available_id], ARRAY[p_amount, -p_amount]);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
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
        PERFORM set_config('ledger.open_entry', e.entry_id || ':' || p_reference, true);
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

-- Release: held -> available on exactly the instruments of the split.
CREATE OR REPLACE FUNCTION ledger_post_release(p_customer bigint, p_tenant bigint, p_currency text,
    p_instruments text[], p_amounts numeric[], p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    s record;
    v_amount numeric;
BEGIN
    FOREACH v_amount IN ARRAY p_amounts LOOP
        PERFORM ledger_check_amount(p_currency, v_amount, 'split');
    END LOOP;
    e := ledger_open_entry(p_reference, 'release', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        s := ledger_split_accounts(p_customer, p_currency, p_instruments);
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            (SELECT array_agg(x ORDER BY o) FROM (
                SELECT s.held_ids[i] AS x, 2 * i AS o FROM generate_subscripts(p_amounts, 1) i
                UNION ALL SELECT s.available_ids[i], 2 * i + 1 FROM generate_subscripts(p_amounts, 1) i) q),
            (SELECT array_agg(x ORDER BY o) FROM (
                SELECT p_amounts[i] AS x, 2 * i AS o FROM generate_subscripts(p_amounts, 1) i
                UNION ALL SELECT -p_amounts[i], 2 * i + 1 FROM generate_subscripts(p_amounts, 1) i) q));
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- Settle: Dr held (the split, = principal + customer fee) / Cr sub-account (principal) / Cr fee revenue.
CREATE OR REPLACE FUNCTION ledger_post_settle(p_customer bigint, p_tenant bigint, p_currency text,
    p_instruments text[], p_amounts numeric[], p_customer_fee numeric, p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    s record;
    v_amount numeric;
    v_total numeric := 0;
    v_sub bigint;
    v_revenue bigint;
BEGIN
    FOREACH v_amount IN ARRAY p_amounts LOOP
        PERFORM ledger_check_amount(p_currency, v_amount, 'split');
        v_total := v_total + v_amount;
    END LOOP;
    PERFORM ledger_check_amount(p_currency, p_customer_fee, 'customer_fee', true);
    IF p_customer_fee >= v_total THEN
        PERFORM ledger_raise('validation_error',
            format('The customer fee %s leaves no principal out of the held %s.', p_customer_fee, v_total),
            'customer_fee');
    END IF;
    e := ledger_open_entry(p_reference, 'settle', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        v_sub := ledger_tenant_account(p_tenant, p_currency, 'sub_account');
        v_revenue := ledger_tenant_account(p_tenant, p_currency, 'fee_revenue');
        s := ledger_split_accounts(p_customer, p_currency, p_instruments);
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            s.held_ids || v_sub || v_revenue,
            p_amounts || -(v_total - p_customer_fee) || -p_customer_fee);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- Fee reserve (main -> reserved), fee release (reserved -> main).
CREATE OR REPLACE FUNCTION ledger_post_fee_move(p_tenant bigint, p_currency text, p_amount numeric, p_kind text,
    p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    v_main bigint;
    v_reserved bigint;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    e := ledger_open_entry(p_reference, p_kind, p_tenant, NULL, p_currency, p_request, '');
    IF NOT e.replayed THEN
        v_main := ledger_tenant_account(p_tenant, p_currency, 'main_account');
        v_reserved := ledger_tenant_account(p_tenant, p_currency, 'main_reserved');
        IF p_kind = 'fee_reserve' THEN
            PERFORM ledger_insert_legs(e.entry_id, p_currency, ARRAY[v_reserved, v_main], ARRAY[p_amount, -p_amount]);
        ELSE
            PERFORM ledger_insert_legs(e.entry_id, p_currency, ARRAY[v_main, v_reserved], ARRAY[p_amount, -p_amount]);
        END IF;
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- Fee booked: the reserve goes back to the main account and the actual fee leaves it for the
-- network-fee expense. What the main account cannot cover (the fee was really paid on chain) is
-- credited to the main-account shortfall, repaid by the next top-up or sub -> main transfer.
CREATE OR REPLACE FUNCTION ledger_post_fee_book(p_tenant bigint, p_currency text, p_reserved numeric,
    p_actual numeric, p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    v_main bigint;
    v_reserved bigint;
    v_expense bigint;
    v_shortfall bigint;
    v_main_balance numeric;
    v_covered numeric;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_reserved, 'reserved', true);
    PERFORM ledger_check_amount(p_currency, p_actual, 'actual', true);
    IF p_reserved = 0 AND p_actual = 0 THEN
        PERFORM ledger_raise('amount_not_positive', 'Nothing to book: reserved and actual are both zero.', 'actual');
    END IF;
    e := ledger_open_entry(p_reference, 'fee_book', p_tenant, NULL, p_currency, p_request, '');
    IF NOT e.replayed THEN
        v_main := ledger_tenant_account(p_tenant, p_currency, 'main_account');
        v_reserved := ledger_tenant_account(p_tenant, p_currency, 'main_reserved');
        v_expense := ledger_tenant_account(p_tenant, p_currency, 'network_fee_expense');
        v_shortfall := ledger_tenant_account(p_tenant, p_currency, 'main_shortfall');
        PERFORM ledger_lock(ARRAY[v_main, v_reserved, v_expense, v_shortfall]);
        SELECT balance INTO v_main_balance FROM ledger_account WHERE id = v_main;
        v_covered := least(p_actual, v_main_balance + p_reserved);
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            ARRAY[v_main, v_reserved, v_expense, v_main, v_shortfall],
            ARRAY[p_reserved, -p_reserved, p_actual, -v_covered, -(p_actual - v_covered)], true);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- Transfers into the main account: a top-up from outside (Cr external) or from the sub-account
-- (Cr sub-account, refused if it cannot cover). An open fee shortfall is repaid first.
CREATE OR REPLACE FUNCTION ledger_post_transfer(p_tenant bigint, p_currency text, p_amount numeric, p_kind text,
    p_reference text, p_request jsonb)
RETURNS TABLE (entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    v_main bigint;
    v_source bigint;
    v_shortfall bigint;
    v_repay numeric;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    e := ledger_open_entry(p_reference, p_kind, p_tenant, NULL, p_currency, p_request, '');
    IF NOT e.replayed THEN
        v_source := ledger_tenant_account(p_tenant, p_currency,
                                          CASE WHEN p_kind = 'main_topup' THEN 'external' ELSE 'sub_account' END);
        v_main := ledger_tenant_account(p_tenant, p_currency, 'main_account');
        v_shortfall := ledger_tenant_account(p_tenant, p_currency, 'main_shortfall');
        PERFORM ledger_lock(ARRAY[v_main, v_source, v_shortfall]);
        SELECT least(balance, p_amount) INTO v_repay FROM ledger_account WHERE id = v_shortfall;
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            ARRAY[v_main, v_source, v_shortfall, v_main],
            ARRAY[p_amount, -p_amount, v_repay, -v_repay], true);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;
