-- Legs are applied once per INSERT statement instead of once per row: one trigger call moves the
-- balances of all accounts the statement touches (netted per account) and writes the securities
-- posting records of the customer legs, in two statements. A posting inserts its legs in one
-- statement, so this is one call per posting. Same guarantees as the row trigger it replaces:
-- every leg's account must exist in the leg's currency (else 23L07), balances move in the same
-- transaction, and only this trigger (trigger depth 1) may update an account.
-- The existence of the leg's entry moves to the deferred balance check (which already reads it).

DROP TRIGGER IF EXISTS ledger_leg_apply ON ledger_leg;
DROP FUNCTION IF EXISTS ledger_leg_apply();

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
    INSERT INTO ledger_securities_posting
        (leg_id, entry_id, reference, customer_id, instrument, currency, account_kind, quantity)
    SELECT l.id, l.entry_id, e.reference, a.customer_id, a.instrument, l.currency, a.kind, a.normal_sign * l.amount
      FROM new_legs l
      JOIN ledger_account a ON a.id = l.account_id
      JOIN ledger_entry e ON e.id = l.entry_id
     WHERE a.customer_id IS NOT NULL
     ORDER BY l.id;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_legs_apply AFTER INSERT ON ledger_leg
    REFERENCING NEW TABLE AS new_legs FOR EACH STATEMENT EXECUTE FUNCTION ledger_legs_apply();

-- The leg-level deferred check (for legs its entry's check has not covered) also requires the
-- entry to exist: legs carry no FK constraint.
CREATE OR REPLACE FUNCTION ledger_leg_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_checked text := current_setting('ledger.checked_entry', true);
BEGIN
    IF coalesce(v_checked, '') <> '' AND split_part(v_checked, ':', 1)::bigint = NEW.entry_id
       AND NEW.id <= split_part(v_checked, ':', 2)::bigint THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_entry WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger: leg % names entry %, which does not exist', NEW.id, NEW.entry_id
            USING ERRCODE = '23L07';
    END IF;
    PERFORM ledger_assert_balanced(NEW.entry_id);
    RETURN NULL;
END $$;
