-- selftest.sql: before anything is measured, check that reserve() does
-- what budgetd's reserve does (one call per rule); any wrong answer
-- raises, and run stops. Leaves its rows behind under ids T-*; run
-- removes what would disturb the benchmark.

CREATE FUNCTION bench_expect(r jsonb, want text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce(r->>'error', r->>'status') IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'selftest: expected %, got %', want, r;
	END IF;
END
$$;

DO $$
DECLARE
	d date := current_date;
	r jsonb;
	n bigint;
BEGIN
	-- a plain reservation: START 10,000 EUR at 50% = 5,000 EUR
	r := reserve('T-1', 'T-d1', bench_rid(10000000), 'FW2-01', 'START',
	    1000000, d);
	PERFORM bench_expect(r, 'ok');
	IF (r->'dossier'->>'subsidy_cents')::bigint <> 500000 THEN
		RAISE EXCEPTION 'selftest: subsidy %', r;
	END IF;
	-- the same request again: the same answer, replayed, nothing twice
	r := reserve('T-1', 'T-d1', bench_rid(10000000), 'FW2-01', 'START',
	    1000000, d);
	PERFORM bench_expect(r, 'ok');
	IF NOT (r ? 'replayed') THEN
		RAISE EXCEPTION 'selftest: not replayed: %', r;
	END IF;
	-- the same id for another request
	PERFORM bench_expect(reserve('T-1', 'T-d2', bench_rid(10000001),
	    'FW2-01', 'START', 1000000, d), 'request_id_reused');
	-- one trajectory at a time in an undertaking
	PERFORM bench_expect(reserve('T-2', 'T-d2', bench_rid(10000000),
	    'FW2-02', 'START', 1000000, d), 'exclusion_period');
	-- approved two years ago: excluded for 4 years
	PERFORM bench_expect(reserve('T-3', 'T-d3', bench_rid(16000001),
	    'FW2-02', 'START', 1000000, d), 'exclusion_period');
	-- 298,000 + 5,000 > 300,000
	PERFORM bench_expect(reserve('T-4', 'T-d4', bench_rid(16000000),
	    'FW2-02', 'START', 1000000, d), 'deminimis_ceiling_exceeded');
	-- the linked company's 296,000 counts: 296,000 + 5,000 > 300,000
	PERFORM bench_expect(reserve('T-5', 'T-d5', bench_rid(16000002),
	    'FW2-02', 'START', 1000000, d), 'deminimis_ceiling_exceeded');
	-- START 8,500 at 50% = 4,250: 296,000 + 4,250 > 300,000 still
	PERFORM bench_expect(reserve('T-6', 'T-d6', bench_rid(16000002),
	    'FW2-02', 'START', 850000, d), 'deminimis_ceiling_exceeded');
	-- exactly reaching the ceiling is allowed: 295,000 + 5,000
	PERFORM bench_expect(reserve('T-12', 'T-d12', bench_rid(16000004),
	    'FW2-02', 'START', 1000000, d), 'ok');
	-- ... one cent more is not: 295,000.01 + 5,000
	PERFORM bench_expect(reserve('T-13', 'T-d13', bench_rid(16000005),
	    'FW2-02', 'START', 1000000, d), 'deminimis_ceiling_exceeded');
	-- a refusal keeps its refusal
	PERFORM bench_expect(reserve('T-6', 'T-d6', bench_rid(16000002),
	    'FW2-02', 'START', 850000, d), 'deminimis_ceiling_exceeded');
	-- cost outside START's band; package unknown; company unknown
	PERFORM bench_expect(reserve('T-7', 'T-d7', bench_rid(10000002),
	    'FW2-02', 'START', 1100000, d), 'cost_out_of_band');
	PERFORM bench_expect(reserve('T-8', 'T-d8', bench_rid(10000002),
	    'FW2-02', 'BASIC', 2600000, d), 'package_not_allowed');
	PERFORM bench_expect(reserve('T-9', 'T-d9', '0123456749',
	    'FW2-02', 'START', 1000000, d), 'not_found');
	-- a company with aid (i = 3): 2 grants in the window count, the old
	-- one does not
	PERFORM bench_expect(reserve('T-10', 'T-d10', bench_rid(10000003),
	    'FW2-03', 'START', 1000000, d), 'ok');
	-- contract budget: shrink FW2-04 to 4,999.99 EUR
	UPDATE contracts SET budget = 499999 WHERE id = 'FW2-04';
	PERFORM bench_expect(reserve('T-11', 'T-d11', bench_rid(10000004),
	    'FW2-04', 'START', 1000000, d), 'contract_budget_exceeded');
	UPDATE contracts SET budget = 100000000000 WHERE id = 'FW2-04';

	-- balances: FW2-01 and FW2-03 hold 5,000 each
	SELECT reserved INTO n FROM contracts WHERE id = 'FW2-01';
	IF n <> 500000 THEN
		RAISE EXCEPTION 'selftest: FW2-01 reserved %', n;
	END IF;
	-- journal: 3 reservations and 7 journaled refusals (exclusion 2,
	-- de-minimis 4, budget 1); a replayed refusal is answered from
	-- requests and journaled once, request_id_reused and argument-like
	-- refusals are not journaled (as in budgetd)
	SELECT count(*) INTO n FROM journal;
	IF n <> 10 THEN
		RAISE EXCEPTION 'selftest: % journal rows', n;
	END IF;
	IF coalesce(current_setting('budget.chain', true), 'sync') <> 'off' THEN
		IF journal_verify() <> 0 THEN
			RAISE EXCEPTION 'selftest: journal chain broken';
		END IF;
		UPDATE journal SET entry = entry || 'x' WHERE seq = 2;
		IF journal_verify() = 0 THEN
			RAISE EXCEPTION 'selftest: tampering not detected';
		END IF;
		UPDATE journal SET entry = left(entry, -1) WHERE seq = 2;
		IF journal_verify() <> 0 THEN
			RAISE EXCEPTION 'selftest: journal chain broken';
		END IF;
	END IF;
END
$$;

-- Put the benchmark's companies back as they were.
DELETE FROM dossiers WHERE id IN ('T-d1', 'T-d10', 'T-d12');
UPDATE contracts k SET
    reserved = (SELECT coalesce(sum(pending), 0) FROM dossiers d
	WHERE d.contract = k.id),
    ndossiers = (SELECT count(*) FROM dossiers d WHERE d.contract = k.id);
