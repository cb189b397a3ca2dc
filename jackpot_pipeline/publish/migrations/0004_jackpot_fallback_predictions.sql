-- A jackpot fixture whose teams cannot be priced by the model falls back to the operator's market
-- (market_only) or to the league prior (league_prior). Its set rows then have no model version;
-- 0003 required one on every model set. Allow it only for jackpot rows that say which fallback they are.
DO $$
DECLARE
    constraint_name text;
BEGIN
    SELECT conname INTO constraint_name
      FROM pg_constraint
     WHERE conrelid = 'jackpot.predictions'::regclass
       AND contype = 'c'
       AND pg_get_constraintdef(oid) LIKE '%model_version IS NOT NULL%';
    EXECUTE format('ALTER TABLE jackpot.predictions DROP CONSTRAINT %I', constraint_name);
END
$$;

ALTER TABLE jackpot.predictions ADD CONSTRAINT predictions_model_sets_carry_a_version CHECK (
    set_id::text LIKE 'market%'
    OR model_version IS NOT NULL
    OR (jackpot_id IS NOT NULL AND flags && ARRAY['market_only', 'league_prior']::text[])
);
