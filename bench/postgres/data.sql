-- data.sql: the data the PostgreSQL baseline runs on (psql variable
-- :ncompanies, the companies the benchmark walks; run sets it).
--
--   18 contracts of framework FW2 (budgets far above what a run reserves);
--   the shipped rule sets (SPEC §3) and de-minimis regimes;
--   :ncompanies companies 10000000+i (enterprise numbers with their
--     check digits), SMEs; 10% of them with declared de-minimis aid: two
--     grants inside the last 3 years (at most 200,000 EUR together) and
--     one 150,000 EUR grant 3-5 years back that the window must leave out;
--   :ncompanies/20 companies 15000000+j, each linked to one walked
--     company (a single undertaking of two), each with 50,000 EUR of aid
--     in the window; one link in five has ended, so its pair is two
--     undertakings again on the day;
--   a few companies 16000000+k that the self-test (selftest.sql) uses.
--
-- Nothing here makes a benchmark reservation fail: every walked company's
-- undertaking stays below 295,000 EUR, and none has a dossier.

CREATE FUNCTION bench_rid(base bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT (base * 100 + 97 - base % 97)::text
$$;

INSERT INTO rulesets VALUES
	('V2021',  '2021-01-01', 4500, NULL, 4, 5000000, NULL),
	('V2021L', '2021-09-01', 4500, NULL, 4, 5000000, NULL),
	('V2023',  '2023-03-01', 5000, NULL, 4, NULL, NULL),
	('V2024',  '2024-04-17', 5000, 3500, 4, 6000000, 3000000);
INSERT INTO packages VALUES
	('V2021',  'BASIC',  2500000, 3000000, true),
	('V2021L', 'LIGHT',  1500000, 2000000, true),
	('V2021L', 'BASIC',  2500000, 3000000, true),
	('V2023',  'START',   920000, 3500000, true),
	('V2023',  'MEDIUM',  920000, 3500000, true),
	('V2023',  'PLUS',    920000, 3500000, true),
	('V2024',  'START',   850000, 1080000, false),
	('V2024',  'MEDIUM', 1700000, 2200000, true),
	('V2024',  'PLUS',   2880000, 3500000, true);
INSERT INTO dm_regimes VALUES
	('1407/2013', '2014-01-01', 20000000, false),
	('2023/2831', '2024-01-01', 30000000, true);

INSERT INTO contracts (id, provider, framework, budget)
SELECT 'FW2-' || lpad(k::text, 2, '0'), 'Provider ' || k, 'FW2',
    100000000000	-- 1 billion EUR: no run comes near it
FROM generate_series(1, 18) k;

INSERT INTO companies (number, name, postcode, size)
SELECT bench_rid(10000000 + i), 'Company ' || i, 8000 + i % 2000,
    (ARRAY['micro', 'small', 'medium'])[1 + i % 3]
FROM generate_series(0, :ncompanies - 1) i;

INSERT INTO companies (number, name, postcode, size)
SELECT bench_rid(15000000 + j), 'Subsidiary ' || j, 9000 + j % 1000, 'small'
FROM generate_series(0, :ncompanies / 20 - 1) j;

-- Each subsidiary j is linked to walked company 20j (j even) or 20j+3
-- (j odd: a company with aid of its own), both directions.
INSERT INTO links (a, b, since, until)
SELECT x.a, x.b, current_date - 2000,
    CASE WHEN j % 5 = 0 THEN current_date - 30 END
FROM generate_series(0, :ncompanies / 20 - 1) j,
LATERAL (VALUES
	(bench_rid(10000000 + 20 * j + 3 * (j % 2)), bench_rid(15000000 + j)),
	(bench_rid(15000000 + j), bench_rid(10000000 + 20 * j + 3 * (j % 2)))
) x(a, b);

INSERT INTO grants (company, kind, date, amount, effective)
SELECT bench_rid(10000000 + i), 'declared', g.date, g.amount, g.amount
FROM generate_series(0, :ncompanies - 1) i,
LATERAL (VALUES
	(current_date - i % 1000, 1000000 + (i * 7919) % 9000000),
	(current_date - (i * 7) % 1090, 1000000 + (i::bigint * 104729) % 9000000),
	(current_date - 1100 - i % 700, 15000000)
) g(date, amount)
WHERE i % 10 = 3;

INSERT INTO grants (company, kind, date, amount, effective)
SELECT bench_rid(15000000 + j), 'declared', current_date - 400 - j % 500,
    5000000, 5000000
FROM generate_series(0, :ncompanies / 20 - 1) j;

-- For the self-test: 16000000 has 298,000 EUR in the window; 16000001
-- had a dossier approved two years ago; 16000002 is linked to 16000003,
-- which has 296,000 EUR in the window; 16000004 has 295,000.00 EUR and
-- 16000005 295,000.01 EUR.
INSERT INTO companies (number, name, postcode, size)
SELECT bench_rid(16000000 + k), 'Test ' || k, 2000, 'small'
FROM generate_series(0, 5) k;
INSERT INTO grants (company, kind, date, amount, effective) VALUES
	(bench_rid(16000000), 'declared', current_date - 100, 29800000, 29800000),
	(bench_rid(16000003), 'declared', current_date - 900, 29600000, 29600000),
	(bench_rid(16000004), 'declared', current_date - 1000, 29500000, 29500000),
	(bench_rid(16000005), 'declared', current_date - 1000, 29500001, 29500001);
INSERT INTO links (a, b, since) VALUES
	(bench_rid(16000002), bench_rid(16000003), current_date - 100),
	(bench_rid(16000003), bench_rid(16000002), current_date - 100);
INSERT INTO dossiers (id, company, contract, package, state, cost, subsidy,
    granted, rule_set, rate_bp, reserved_on, first_decision)
VALUES ('T-approved', bench_rid(16000001), 'FW2-18', 'START', 'approved',
    1000000, 500000, 500000, 'V2024', 5000, current_date - 740,
    current_date - 730);
INSERT INTO grants (company, dossier, kind, date, amount, effective)
VALUES (bench_rid(16000001), 'T-approved', 'initial', current_date - 730,
    500000, 500000);
UPDATE contracts SET committed = 500000, ndossiers = 1 WHERE id = 'FW2-18';
