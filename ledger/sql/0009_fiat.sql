-- Cash-out to fiat (docs/FIAT.md): new posting functions only; the existing ones are untouched.
-- Conventions as in 0002/0005: amounts signed (+ debit, - credit), refusals raised with
-- ledger_raise (SQLSTATE LDG00), entries opened with ledger_open_entry (idempotent by reference),
-- accounts locked in ascending id order by ledger_insert_legs.

-- sell: crypto leaves the customer's available instruments of p_currency, largest balance first,
-- into the tenant's crypto inventory; fiat goes from the tenant's client-money bank account (which
-- the tenant funds with the proceeds: client money) to the customer's available fiat position
-- FIAT/<venue>/<fiat>. One entry, balanced per currency. Returns the crypto split.
CREATE OR REPLACE FUNCTION ledger_post_sell(p_customer bigint, p_tenant bigint, p_currency text, p_amount numeric,
                                            p_fiat text, p_fiat_amount numeric, p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, replayed boolean, instrument text, amount numeric) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    r record;
    c record;
    v_venue text;
    v_left numeric := p_amount;
    v_take numeric;
    v_total numeric := 0;
    v_accounts bigint[] := '{}';
    v_amounts numeric[] := '{}';
    v_instruments text[] := '{}';
    v_split numeric[] := '{}';
    v_inventory bigint;
    v_bank bigint;
BEGIN
    IF NOT (p_fiat = ANY(ARRAY['HKD', 'USD'])) THEN
        PERFORM ledger_raise('validation_error', format('%s is not a fiat currency of the ledger.', p_fiat), 'fiat');
    END IF;
    IF p_currency = ANY(ARRAY['HKD', 'USD']) THEN
        PERFORM ledger_raise('validation_error', 'Only crypto is sold for fiat.', 'currency');
    END IF;
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    PERFORM ledger_check_amount(p_fiat, p_fiat_amount, 'fiat_amount');
    SELECT t.venue_code INTO v_venue
      FROM customers_customer cu JOIN customers_tenant t ON t.id = cu.tenant_id
     WHERE cu.id = p_customer AND t.id = p_tenant;
    IF NOT FOUND THEN
        PERFORM ledger_raise('not_found', 'No such customer of this tenant.', 'customer');
    END IF;
    e := ledger_open_entry(p_reference, 'sell', p_tenant, p_customer, p_currency, p_request, '');
    IF e.replayed THEN
        RETURN QUERY
            SELECT e.entry_id, true, a.instrument::text, l.amount
              FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id
             WHERE l.entry_id = e.entry_id AND a.kind = 'customer_available' AND l.currency = p_currency
             ORDER BY l.id;
        RETURN;
    END IF;
    FOR r IN
        WITH locked AS MATERIALIZED (
            SELECT a.id, a.instrument, a.balance FROM ledger_account a
             WHERE a.customer_id = p_customer AND a.currency = p_currency AND a.kind = 'customer_available'
             ORDER BY a.id FOR UPDATE)
        SELECT k.id, k.instrument AS instr, k.balance FROM locked k WHERE k.balance > 0
         ORDER BY k.balance DESC, k.instrument ASC
    LOOP
        EXIT WHEN v_left = 0;
        v_total := v_total + r.balance;
        v_take := least(r.balance, v_left);
        v_accounts := v_accounts || r.id;
        v_amounts := v_amounts || v_take;
        v_instruments := v_instruments || r.instr::text;
        v_split := v_split || v_take;
        v_left := v_left - v_take;
    END LOOP;
    IF v_left > 0 THEN
        PERFORM ledger_raise('insufficient_balance',
            format('The available %s balance (%s) does not cover %s.', p_currency, trim_scale(v_total),
                   trim_scale(p_amount)), 'amount');
    END IF;
    v_inventory := ledger_tenant_account(p_tenant, p_currency, 'crypto_inventory');
    v_bank := ledger_tenant_account(p_tenant, p_fiat, 'client_money_bank');
    c := ledger_customer_accounts(p_tenant, p_customer, p_fiat, format('FIAT/%s/%s', v_venue, p_fiat));
    PERFORM ledger_insert_legs(e.entry_id, p_currency, v_accounts || v_inventory, v_amounts || -p_amount);
    PERFORM ledger_insert_legs(e.entry_id, p_fiat, ARRAY[v_bank, c.available_id], ARRAY[p_fiat_amount, -p_fiat_amount]);
    RETURN QUERY SELECT e.entry_id, false, u.i, u.m FROM unnest(v_instruments, v_split) AS u(i, m);
END $$;

-- fiat_send: the payment file is out. Held (the split: principal + fee) → fiat in transit
-- (principal) and fee revenue (the fee).
CREATE OR REPLACE FUNCTION ledger_post_fiat_send(p_customer bigint, p_tenant bigint, p_currency text,
                                                 p_instruments text[], p_amounts numeric[], p_fee numeric,
                                                 p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    s record;
    v_amount numeric;
    v_total numeric := 0;
    v_transit bigint;
    v_revenue bigint;
BEGIN
    FOREACH v_amount IN ARRAY p_amounts LOOP
        PERFORM ledger_check_amount(p_currency, v_amount, 'split');
        v_total := v_total + v_amount;
    END LOOP;
    PERFORM ledger_check_amount(p_currency, p_fee, 'fee', true);
    IF p_fee >= v_total THEN
        PERFORM ledger_raise('validation_error',
            format('The fee %s leaves no principal out of the held %s.', p_fee, v_total), 'fee');
    END IF;
    e := ledger_open_entry(p_reference, 'fiat_send', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        v_transit := ledger_tenant_account(p_tenant, p_currency, 'fiat_in_transit');
        v_revenue := ledger_tenant_account(p_tenant, p_currency, 'fee_revenue');
        s := ledger_split_accounts(p_customer, p_currency, p_instruments);
        PERFORM ledger_insert_legs(e.entry_id, p_currency, s.held_ids || v_transit || v_revenue,
                                   p_amounts || -(v_total - p_fee) || -p_fee);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- fiat_settle: the statement shows the payment: in transit → out of the client-money bank account.
CREATE OR REPLACE FUNCTION ledger_post_fiat_settle(p_customer bigint, p_tenant bigint, p_currency text,
                                                   p_amount numeric, p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    e := ledger_open_entry(p_reference, 'fiat_settle', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            ARRAY[ledger_tenant_account(p_tenant, p_currency, 'fiat_in_transit'),
                  ledger_tenant_account(p_tenant, p_currency, 'client_money_bank')],
            ARRAY[p_amount, -p_amount]);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- fiat_return: the payment came back: in transit → the customer's available position, less the
-- bank's charge (which left the client-money bank account).
CREATE OR REPLACE FUNCTION ledger_post_fiat_return(p_customer bigint, p_tenant bigint, p_currency text,
                                                   p_instrument text, p_amount numeric, p_charge numeric,
                                                   p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
    c record;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    PERFORM ledger_check_amount(p_currency, p_charge, 'charge', true);
    IF p_charge >= p_amount THEN
        PERFORM ledger_raise('validation_error',
            format('The charge %s leaves nothing of the returned %s.', p_charge, p_amount), 'charge');
    END IF;
    e := ledger_open_entry(p_reference, 'fiat_return', p_tenant, p_customer, p_currency, p_request, '');
    IF NOT e.replayed THEN
        c := ledger_customer_accounts(p_tenant, p_customer, p_currency, p_instrument);
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            ARRAY[ledger_tenant_account(p_tenant, p_currency, 'fiat_in_transit'), c.available_id,
                  ledger_tenant_account(p_tenant, p_currency, 'client_money_bank')],
            ARRAY[p_amount, -(p_amount - p_charge), -p_charge]);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;

-- bank_charge: a charge line of the statement the tenant bears (OUR): expense, out of the bank.
CREATE OR REPLACE FUNCTION ledger_post_bank_charge(p_tenant bigint, p_currency text, p_amount numeric,
                                                   p_reference text, p_request jsonb)
RETURNS TABLE(entry_id bigint, created_at timestamptz, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
    e := ledger_open_entry(p_reference, 'bank_charge', p_tenant, NULL, p_currency, p_request, '');
    IF NOT e.replayed THEN
        PERFORM ledger_insert_legs(e.entry_id, p_currency,
            ARRAY[ledger_tenant_account(p_tenant, p_currency, 'bank_charges'),
                  ledger_tenant_account(p_tenant, p_currency, 'client_money_bank')],
            ARRAY[p_amount, -p_amount]);
    END IF;
    RETURN QUERY SELECT e.entry_id, e.created_at, e.replayed;
END $$;
