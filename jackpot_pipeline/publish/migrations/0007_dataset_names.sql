-- 0007: each table carries the name of the DuckDB table it publishes, so one dataset has one name in
-- both stores and the API: calibration_curves, validation_reports, match_predictions (which also
-- holds the jackpots' prediction rows, jackpot_id set). Columns, constraints, triggers, indexes,
-- identities and row-level security move with the tables. The earlier names stay as views for
-- existing readers; security_invoker, so a reader needs the rights on the table and its row-level
-- security policies apply (an analyst still sees only the jackpots it owns).

ALTER TABLE jackpot.calibration_data RENAME TO calibration_curves;
ALTER TABLE jackpot.validation_results RENAME TO validation_reports;
ALTER TABLE jackpot.predictions RENAME TO match_predictions;

CREATE VIEW jackpot.calibration_data WITH (security_invoker = true) AS
    SELECT * FROM jackpot.calibration_curves;
CREATE VIEW jackpot.validation_results WITH (security_invoker = true) AS
    SELECT * FROM jackpot.validation_reports;
CREATE VIEW jackpot.predictions WITH (security_invoker = true) AS
    SELECT * FROM jackpot.match_predictions;
