-- P2P escrow postings (docs/P2P.md, docs/LEDGER.md). New functions only: the existing posting
-- functions are left as they are. Escrow is the seller's customer_held balance of the instruments
-- the waterfall took, under the trade's reference: no new account kind, the Account check
-- constraints unchanged.

-- Escrow when a buyer takes an offer: the seller's available → held, largest instrument first
-- (equal balances by instrument code), kind p2p_escrow. Returns the split; a replay returns the
-- first split.
CREATE OR REPLACE FUNCTION ledger_post_p2p_escrow(p_customer bigint, p_tenant bigint, p_currency text,
                                                  p_amount numeric, p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, replayed boolean, instrument text, amount numeric)
LANGUAGE plpgsql AS $$
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
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    e := ledger_open_entry(p_reference, 'p2p_escrow', p_tenant, p_customer, p_currency, p_request, '');
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
            format('The seller''s available %s balance (%s) does not cover %s.', p_currency, trim_scale(v_total),
                   trim_scale(p_amount)), 'amount');
    END IF;
    PERFORM ledger_insert_legs(e.entry_id, p_currency, v_accounts, v_amounts, true);
    RETURN QUERY SELECT e.entry_id, false, u.i, u.m FROM unnest(v_instruments, v_split) AS u(i, m);
END $$;

-- A trade's escrow is paid out once: release and refund exclude each other by reference (the
-- trade row lock already serialises them; this is the ledger's own guard).
CREATE OR REPLACE FUNCTION ledger_p2p_exclusive(p_reference text, p_other text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entry WHERE reference = p_other) THEN
        PERFORM ledger_raise('ledger_reference_conflict',
            format('%s cannot post: the escrow was already paid out by %s.', p_reference, p_other), 'reference');
    END IF;
END $$;

-- Release: Dr the seller's held (the escrow split) / Cr the buyer's available on
-- VA/<venue>/<currency><fiat> (what the buyer receives) / Cr fee revenue (the trade fee).
CREATE OR REPLACE FUNCTION ledger_post_p2p_release(p_seller bigint, p_buyer bigint, p_tenant bigint, p_currency text,
                                                   p_instruments text[], p_amounts numeric[], p_quote text,
                                                   p_buyer_amount numeric, p_fee numeric, p_reference text,
                                                   p_other_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamp with time zone, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    s record;
    b record;
    v_amount numeric;
    v_total numeric := 0;
    v_venue text;
    v_quotes text[];
    v_revenue bigint;
BEGIN
    FOREACH v_amount IN ARRAY p_amounts LOOP
        PERFORM ledger_check_amount(p_currency, v_amount, 'split');
        v_total := v_total + v_amount;
    END LOOP;
    PERFORM ledger_check_amount(p_currency, p_buyer_amount, 'amount');
    PERFORM ledger_check_amount(p_currency, p_fee, 'fee', true);
    IF v_total <> p_buyer_amount + p_fee THEN
        PERFORM ledger_raise('validation_error',
            format('The escrow %s is not the buyer''s %s plus the fee %s.', trim_scale(v_total),
                   trim_scale(p_buyer_amount), trim_scale(p_fee)), 'split');
    END IF;
    SELECT t.venue_code, t.quote_currencies INTO v_venue, v_quotes FROM customers_tenant t WHERE t.id = p_tenant;
    IF (SELECT count(*) FROM customers_customer WHERE id IN (p_seller, p_buyer) AND tenant_id = p_tenant) <> 2 THEN
        PERFORM ledger_raise('validation_error', 'Seller and buyer must be two customers of the tenant.', 'customer');
    END IF;
    IF NOT (p_quote = ANY(v_quotes)) THEN
        PERFORM ledger_raise('validation_error',
            format('%s is not one of the tenant''s quote currencies (%s).', p_quote, array_to_string(v_quotes, ', ')),
            'quote');
    END IF;
    e := ledger_open_entry(p_reference, 'p2p_release', p_tenant, p_seller, p_currency, p_request, '');
    IF NOT e.replayed THEN
        PERFORM ledger_p2p_exclusive(p_reference, p_other_reference);
        s := ledger_split_accounts(p_seller, p_currency, p_instruments);
        b := ledger_customer_accounts(p_tenant, p_buyer, p_currency, format('VA/%s/%s%s', v_venue, p_currency, p_quote));
        v_revenue := ledger_tenant_account(p_tenant, p_currency, 'fee_revenue');
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            s.held_ids || b.available_id || v_revenue,
            p_amounts || -p_buyer_amount || -p_fee);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- Refund (cancelled, expired, resolved_refund): Dr the seller's held / Cr the seller's available
-- on exactly the escrow split.
CREATE OR REPLACE FUNCTION ledger_post_p2p_refund(p_customer bigint, p_tenant bigint, p_currency text,
                                                  p_instruments text[], p_amounts numeric[], p_reference text,
                                                  p_other_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamp with time zone, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    s record;
    v_amount numeric;
BEGIN
    FOREACH v_amount IN ARRAY p_amounts LOOP
        PERFORM ledger_check_amount(p_currency, v_amount, 'split');
    END LOOP;
    e := ledger_open_entry(p_reference, 'p2p_refund', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        PERFORM ledger_p2p_exclusive(p_reference, p_other_reference);
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
