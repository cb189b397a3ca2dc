-- 0005: a match is never deleted because the publisher's file no longer has it (policy in
-- jackpot_pipeline/sources/revisions.py). It stays in jackpot.matches, marked withdrawn: when, by which
-- version of the source (sha256; none when a whole partition was withdrawn by hand) and why, the same
-- three columns as DuckDB's withdrawn_matches. Predictions and jackpot fixtures that refer to it keep a
-- valid foreign key; a match that reappears is reinstated (the marks are cleared).

ALTER TABLE jackpot.matches
    ADD COLUMN withdrawn_at        timestamptz,
    ADD COLUMN withdrawn_by_sha256 jackpot.sha256,
    ADD COLUMN withdrawn_reason    text CHECK (withdrawn_reason IN ('removed_from_source', 'partition_dropped')),
    ADD CONSTRAINT matches_withdrawal_is_complete CHECK (num_nulls(withdrawn_at, withdrawn_reason) IN (0, 2)),
    ADD CONSTRAINT matches_withdrawal_names_its_source CHECK (
        withdrawn_reason IS DISTINCT FROM 'removed_from_source' OR withdrawn_by_sha256 IS NOT NULL
    );
CREATE INDEX matches_withdrawn ON jackpot.matches (league, season) WHERE withdrawn_at IS NOT NULL;

-- The matches the publisher's current files hold; security_invoker so a reader needs the rights on the table.
CREATE VIEW jackpot.current_matches WITH (security_invoker = true) AS
    SELECT * FROM jackpot.matches WHERE withdrawn_at IS NULL;

-- Nothing deletes a match, not even the schema owner by hand: withdraw it instead. (TRUNCATE skips row
-- triggers; only the owner may truncate.)
CREATE FUNCTION jackpot.refuse_match_deletion() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'jackpot.matches keeps every match: % of %|% is marked withdrawn, not deleted',
        OLD.match_id, OLD.league, OLD.season
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER matches_are_never_deleted BEFORE DELETE ON jackpot.matches
    FOR EACH ROW EXECUTE FUNCTION jackpot.refuse_match_deletion();
