-- Cheaper row checks on the posting path (docs/PERFORMANCE.md, "Where a hold's cost went").
--
-- PostgreSQL re-reads every CHECK constraint's stored expression (and a stored generated column's)
-- for each statement that writes the table, UPDATEs included, whatever the columns changed. The
-- account's owner/kind rule (two regular expressions), its kind list, the entry's kind list and the
-- generated normal_sign cost about a third of a hold's server instructions (callgrind: 1.94M per hold
-- before, of which 0.67M was parsing those expressions), though a posting only ever changes a balance.
--
-- The same rules are now BEFORE INSERT triggers, which fire when a row is written with those
-- columns and never on the balance UPDATE of a posting: ledger_account_shape (kind list, owner
-- matches kind, instrument format; computes normal_sign from the kind) and ledger_entry_shape
-- (kind list). They raise check_violation naming the constraint they replace, so an application
-- sees the same error as before. ledger_account_not_overdrawn stays a CHECK: it is about the
-- balance and must hold after every update. tests/ledger/test_row_checks.py keeps these lists
-- equal to AccountKind, EntryKind and DEBIT_NORMAL_KINDS.

ALTER TABLE ledger_account DROP CONSTRAINT ledger_account_owner_matches_kind;
ALTER TABLE ledger_account DROP CONSTRAINT ledger_account_kind_valid;
ALTER TABLE ledger_entry DROP CONSTRAINT ledger_entry_kind_valid;
-- normal_sign keeps its values, now written by ledger_account_shape rather than recomputed on every update
ALTER TABLE ledger_account ALTER COLUMN normal_sign DROP EXPRESSION;

CREATE FUNCTION ledger_account_shape() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_ok boolean;
BEGIN
    IF NEW.kind NOT IN ('customer_available', 'customer_held', 'sub_account', 'main_account', 'main_reserved',
                        'network_fee_expense', 'fee_revenue', 'external', 'main_shortfall', 'client_money_bank',
                        'fiat_in_transit', 'bank_charges', 'crypto_inventory') THEN
        RAISE EXCEPTION 'new row for relation "ledger_account" violates check constraint "ledger_account_kind_valid"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_account_kind_valid', TABLE = 'ledger_account';
    END IF;
    v_ok := CASE WHEN NEW.kind IN ('customer_available', 'customer_held')
                THEN NEW.customer_id IS NOT NULL
                     AND (NEW.instrument ~ '^VA/[A-Z0-9]{2,10}/[A-Z0-9]+[A-Z]{3}$'
                          OR (NEW.currency IN ('HKD', 'USD') AND NEW.instrument ~ '^FIAT/[A-Z0-9]{2,10}/[A-Z]{3}$'))
                ELSE NEW.customer_id IS NULL AND NEW.instrument = '' END;
    IF NOT v_ok THEN
        RAISE EXCEPTION 'new row for relation "ledger_account" violates check constraint "ledger_account_owner_matches_kind"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_account_owner_matches_kind', TABLE = 'ledger_account';
    END IF;
    NEW.normal_sign := CASE WHEN NEW.kind IN ('sub_account', 'main_account', 'main_reserved', 'network_fee_expense',
                                              'client_money_bank', 'bank_charges') THEN 1 ELSE -1 END;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_shape BEFORE INSERT OR UPDATE OF kind, customer_id, instrument, currency, normal_sign
    ON ledger_account FOR EACH ROW EXECUTE FUNCTION ledger_account_shape();

CREATE FUNCTION ledger_entry_shape() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind NOT IN ('deposit', 'hold', 'release', 'settle', 'fee_reserve', 'fee_release', 'fee_book', 'main_topup',
                        'sub_to_main', 'sell', 'fiat_send', 'fiat_settle', 'fiat_return', 'bank_charge', 'p2p_escrow',
                        'p2p_release', 'p2p_refund') THEN
        RAISE EXCEPTION 'new row for relation "ledger_entry" violates check constraint "ledger_entry_kind_valid"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_kind_valid', TABLE = 'ledger_entry';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entry_shape BEFORE INSERT ON ledger_entry FOR EACH ROW EXECUTE FUNCTION ledger_entry_shape();

-- The hold opens its entry in one statement with the currency and amount check (no separate read
-- of the currency), and returns its split rows as it builds them (no final query).
CREATE OR REPLACE FUNCTION ledger_post_hold(p_customer bigint, p_tenant bigint, p_currency text, p_amount numeric, p_reference text, p_request jsonb)
 RETURNS TABLE(entry_id bigint, replayed boolean, instrument text, amount numeric)
 LANGUAGE plpgsql
AS $function$
DECLARE
    e record;
    r record;
    v_entry bigint;
    v_left numeric := p_amount;
    v_take numeric;
    v_total numeric := 0;
    v_accounts bigint[] := '{}';
    v_amounts numeric[] := '{}';
BEGIN
    IF coalesce(p_reference, '') = '' THEN
        PERFORM ledger_raise('validation_error', 'A reference is required.', 'reference');
    END IF;
    -- The entry opens only for a known currency and a valid amount, in the one statement (the hot
    -- path); otherwise ledger_check_amount says why, or ledger_open_entry finds the replay.
    INSERT INTO ledger_entry AS le (reference, kind, tenant_id, customer_id, currency, request, memo)
    SELECT p_reference, 'hold', p_tenant, p_customer, p_currency, p_request, ''
      FROM chains_currency c
     WHERE c.code = p_currency AND p_amount > 0 AND scale(trim_scale(p_amount)) <= c.decimals
    ON CONFLICT (reference) DO NOTHING
    RETURNING le.id INTO v_entry;
    IF v_entry IS NULL THEN
        PERFORM ledger_check_amount(p_currency, p_amount, 'amount');
        e := ledger_open_entry(p_reference, 'hold', p_tenant, p_customer, p_currency, p_request, '');
        RETURN QUERY
            SELECT e.entry_id, true, a.instrument::text, -l.amount
              FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id
             WHERE l.entry_id = e.entry_id AND a.kind = 'customer_held'
             ORDER BY l.id;
        RETURN;
    END IF;
    PERFORM set_config('ledger.open_entry', v_entry::text, true);
    entry_id := v_entry;
    replayed := false;
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
        v_left := v_left - v_take;
        instrument := r.instrument;
        amount := v_take;
        RETURN NEXT;  -- kept only if the hold posts: a refusal below discards the rows with the rest
    END LOOP;
    IF v_left > 0 THEN
        PERFORM ledger_raise('insufficient_balance',
            format('The available %s balance (%s) does not cover %s.', p_currency, trim_scale(v_total),
                   trim_scale(p_amount)), 'amount');
    END IF;
    INSERT INTO ledger_leg (entry_id, account_id, currency, amount)
    SELECT v_entry, u.acc, p_currency, u.amt
      FROM unnest(v_accounts, v_amounts) WITH ORDINALITY AS u(acc, amt, ord) ORDER BY u.ord;
END $function$;
