"""A coin's precision and chain decimals cannot change while one of its withdrawals is not
finished: the amount was checked, held and approved with them, and the signed transaction scales
it by them. ``Coin.clean`` says so in the admin; this trigger holds for every other writer."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION chains_coin_decimals_frozen() RETURNS trigger AS $$
DECLARE
    busy bigint;
BEGIN
    SELECT count(*) INTO busy FROM withdrawals_withdrawalorder
     WHERE coin_id = NEW.id AND status NOT IN ('completed', 'rejected', 'cancelled', 'failed');
    IF busy > 0 THEN
        RAISE EXCEPTION 'coin %: decimals and chain_decimals cannot change while % withdrawal(s) of it are not finished',
            NEW.id, busy USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER chains_coin_decimals_frozen
BEFORE UPDATE OF decimals, chain_decimals ON chains_coin
FOR EACH ROW
WHEN (OLD.decimals IS DISTINCT FROM NEW.decimals OR OLD.chain_decimals IS DISTINCT FROM NEW.chain_decimals)
EXECUTE FUNCTION chains_coin_decimals_frozen();
"""

REVERSE = """
DROP TRIGGER IF EXISTS chains_coin_decimals_frozen ON chains_coin;
DROP FUNCTION IF EXISTS chains_coin_decimals_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("withdrawals", "0008_reconcile_beat"), ("chains", "0010_chain_safety")]

    operations = [migrations.RunSQL(FUNCTION, REVERSE)]
