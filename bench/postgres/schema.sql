-- schema.sql: budgetd's reserve path (SPEC §2-§5) rebuilt on PostgreSQL, as
-- the baseline that bench/postgres/run measures budgetd against.
--
-- What one reserve() call does, in ONE transaction, the same things
-- cmd_dossier_reserve_exec() and cmd_exec_one() do in budgetd:
--
--   1. idempotency (SPEC §5): the request id is inserted first; a second
--      call with the same id gets the stored answer back (same request) or
--      request_id_reused (different request); a refusal is stored too;
--   2. the checks, in budgetd's order: dossier exists already, company and
--      contract exist, company absorbed, rule set in force, package,
--      rate and subsidy (R-SUB-1, R-RATE, cost band, caps), contract
--      closed, exclusion (R-EXCL: any dossier of the single undertaking
--      approved within 4 years of the day, or one reserved now), contract
--      budget (R-PB), de-minimis (R-DM: the undertaking's grants in
--      [D - 3 years, D] plus its pending reservations plus this one
--      <= 300,000.00 EUR);
--   3. locks that make two racing reservations serialise: the contract
--      row (SELECT ... FOR UPDATE) and every company row of the single
--      undertaking (in number order, so that no two calls deadlock);
--   4. the writes: the dossier, contract.reserved, the request's answer,
--      and one journal row chained by SHA-256 to the one before it
--      (I-4); a refusal that budgetd journals (exclusion, budget,
--      de-minimis, closed) is journaled here too, as "refused".
--
-- The hash chain needs the previous row's hash, so appending takes a
-- transaction-scoped advisory lock, reads the journal's last row and
-- inserts the next one; the lock is held until COMMIT, fsync included.
-- That serialises every write of the ledger, exactly as Formance Ledger
-- v2's HASH_LOGS=SYNC does (pg_advisory_xact_lock() in InsertLog): it is
-- the honest cost of a synchronously hash-chained journal in PostgreSQL.
-- (A one-row "journal head" locked FOR UPDATE does the same job; it was
-- measured too, and ran about a quarter slower here, with twice the p99:
-- every write updates that one row, and leaves a dead version of it
-- behind. So the lock-and-read-the-tail form is the one kept.) The custom setting budget.chain = 'off' (ALTER DATABASE)
-- leaves the hash out and the lock with it, to show what the chain costs.
--
-- Money is bigint cents, rates basis points, as in budgetd. Company
-- numbers are 10-digit enterprise numbers (R-ID) in text, as budgetd keys
-- them. A control link is stored in both directions (a, b) and (b, a), so
-- that the undertaking walk follows one index.

CREATE TABLE rulesets (
	name             text PRIMARY KEY,
	effective_from   date NOT NULL UNIQUE,
	sme_rate_bp      integer NOT NULL,
	nis2_rate_bp     integer,            -- large NIS2 entities; NULL: none
	exclusion_years  integer NOT NULL,
	max_total_cost   bigint,             -- base + extensions; NULL: no cap
	max_subsidy      bigint              -- NULL: no cap
);

CREATE TABLE packages (
	ruleset    text NOT NULL REFERENCES rulesets,
	name       text NOT NULL,
	min_cost   bigint NOT NULL,
	max_cost   bigint NOT NULL,
	extensions boolean NOT NULL,
	PRIMARY KEY (ruleset, name)
);

-- De-minimis regimes: rolling 3 years (2023/2831) or fiscal years (1407/2013).
CREATE TABLE dm_regimes (
	name           text PRIMARY KEY,
	effective_from date NOT NULL UNIQUE,
	ceiling        bigint NOT NULL,
	rolling        boolean NOT NULL
);

CREATE TABLE companies (
	number        text PRIMARY KEY CHECK (number ~ '^[01][0-9]{9}$'),
	name          text NOT NULL,
	postcode      integer NOT NULL,
	size          text NOT NULL
	    CHECK (size IN ('micro', 'small', 'medium', 'large')),
	maatwerk      boolean NOT NULL DEFAULT false,
	nis2          boolean NOT NULL DEFAULT false,
	absorbed_into text REFERENCES companies,
	absorbed_on   date
);

-- Control links, each stored twice: (parent, child) and (child, parent).
CREATE TABLE links (
	a     text NOT NULL REFERENCES companies,
	b     text NOT NULL REFERENCES companies,
	since date NOT NULL,
	until date,
	CHECK (a <> b)
);
CREATE INDEX links_a ON links (a);

CREATE TABLE contracts (
	id        text PRIMARY KEY,
	provider  text NOT NULL,
	framework text NOT NULL,
	budget    bigint NOT NULL,
	reserved  bigint NOT NULL DEFAULT 0,
	committed bigint NOT NULL DEFAULT 0,
	paid      bigint NOT NULL DEFAULT 0,
	closed    boolean NOT NULL DEFAULT false,
	ndossiers integer NOT NULL DEFAULT 0,
	-- I-1
	CHECK (reserved >= 0 AND committed >= 0 AND paid >= 0 AND
	    reserved + committed + paid <= budget)
);

CREATE TABLE dossiers (
	id             text PRIMARY KEY,
	company        text NOT NULL REFERENCES companies,
	contract       text NOT NULL REFERENCES contracts,
	package        text NOT NULL,
	state          text NOT NULL,
	cost           bigint NOT NULL,
	extension_cost bigint NOT NULL DEFAULT 0,
	subsidy        bigint NOT NULL,
	pending        bigint NOT NULL DEFAULT 0,
	granted        bigint NOT NULL DEFAULT 0,
	paid           bigint NOT NULL DEFAULT 0,
	expires_at     timestamptz,
	rule_set       text NOT NULL,
	rate_bp        integer NOT NULL,
	reserved_on    date NOT NULL,
	first_decision date
);
CREATE INDEX dossiers_company ON dossiers (company);
-- budgetd's expiry index: what the daemon releases when it expires.
CREATE INDEX dossiers_expiry ON dossiers (expires_at) WHERE pending > 0;

-- De-minimis grants: this ledger's (dossier set) or declared external aid.
CREATE TABLE grants (
	id        bigserial PRIMARY KEY,
	company   text NOT NULL REFERENCES companies,
	dossier   text,
	kind      text NOT NULL,
	date      date NOT NULL,
	amount    bigint NOT NULL,
	effective bigint NOT NULL
);
CREATE INDEX grants_company_date ON grants (company, date);

-- Every request id, forever (SPEC §5).
CREATE TABLE requests (
	request_id text PRIMARY KEY,
	digest     bytea NOT NULL,
	status     text,                     -- ok | refused (NULL while running)
	response   jsonb,
	time       timestamptz NOT NULL
);

-- The journal (I-4): hash = SHA-256(prev_hash || entry), entry being
-- "name=value\n" lines like budgetd's canonical form.
CREATE TABLE journal (
	seq        bigint PRIMARY KEY,
	time       timestamptz NOT NULL,
	kind       text NOT NULL,
	request_id text,
	dossier    text,
	company    text,
	contract   text,
	entry      text NOT NULL,
	prev_hash  bytea,
	hash       bytea
);
-- budgetd's history index: the entries of one dossier, company, contract.
CREATE INDEX journal_dossier ON journal (dossier) WHERE dossier IS NOT NULL;
CREATE INDEX journal_company ON journal (company) WHERE company IS NOT NULL;
CREATE INDEX journal_contract ON journal (contract) WHERE contract IS NOT NULL;

-- Only for budget.chain = 'off': sequence numbers without the journal's lock.
CREATE SEQUENCE journal_seq_nochain;

-- budgetd's timestamp form: YYYY-MM-DDTHH:MM:SS.uuuuuuZ
CREATE FUNCTION ts_canon(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Append one entry; returns its sequence number. With the chain on (the
-- default) the caller holds the journal's lock until it commits: the
-- next writer waits, then sees this row as the last one (under READ
-- COMMITTED each statement takes a new snapshot, and a transaction's
-- locks are released only after its commit is visible).
CREATE FUNCTION journal_append(p_kind text, p_request_id text,
    p_dossier text, p_company text, p_contract text, p_fields text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	t     timestamptz := clock_timestamp();
	seq   bigint;
	prev  bytea;
	last  timestamptz;
	entry text;
	nh    bytea;
BEGIN
	IF coalesce(current_setting('budget.chain', true), 'sync') = 'off' THEN
		seq := nextval('journal_seq_nochain');
		entry := format(E'seq=%s\ntime=%s\nkind=%s\nrequest_id=%s\n%s',
		    seq, ts_canon(t), p_kind, p_request_id, p_fields);
		INSERT INTO journal VALUES (seq, t, p_kind, p_request_id,
		    p_dossier, p_company, p_contract, entry, NULL, NULL);
		RETURN seq;
	END IF;

	PERFORM pg_advisory_xact_lock(4242);	-- 4242: the journal
	SELECT j.seq, j.hash, j.time INTO seq, prev, last FROM journal j
	    ORDER BY j.seq DESC LIMIT 1;
	IF NOT FOUND THEN
		seq := 0;
		prev := decode(repeat('00', 32), 'hex');	-- hash(0)
		last := '-infinity';
	END IF;
	seq := seq + 1;
	-- The journal's clock never runs backwards (as in budgetd).
	t := greatest(t, last);
	entry := format(E'seq=%s\ntime=%s\nkind=%s\nrequest_id=%s\n%s',
	    seq, ts_canon(t), p_kind, p_request_id, p_fields);
	nh := sha256(prev || convert_to(entry, 'UTF8'));
	INSERT INTO journal VALUES (seq, t, p_kind, p_request_id, p_dossier,
	    p_company, p_contract, entry, prev, nh);
	RETURN seq;
END
$$;

-- The members of company's single undertaking on day, sorted: every
-- company reachable through links that hold on day (transitively).
CREATE FUNCTION undertaking_on(p_company text, p_day date) RETURNS text[]
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE g(number) AS (
		SELECT p_company
		UNION
		SELECT l.b FROM links l JOIN g ON l.a = g.number
		WHERE l.since <= p_day AND (l.until IS NULL OR l.until >= p_day)
	)
	SELECT array_agg(number ORDER BY number) FROM g
$$;

-- dossier reserve (SPEC §2): returns the answer as jsonb,
-- {"status":"ok","dossier":{...}} or {"status":"refused","error":code,
-- "message":text}, with "replayed":true when the request id was seen.
CREATE FUNCTION reserve(p_request_id text, p_dossier text, p_company text,
    p_contract text, p_package text, p_cost bigint, p_day date,
    p_extension_cost bigint DEFAULT 0, p_ttl interval DEFAULT '60 days')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_now     timestamptz := clock_timestamp();
	v_digest  bytea;
	v_old     record;
	v_company companies%ROWTYPE;
	v_k       contracts%ROWTYPE;
	v_rs      rulesets%ROWTYPE;
	v_pkg     packages%ROWTYPE;
	v_reg     dm_regimes%ROWTYPE;
	v_x       record;
	v_group   text[];
	v_rate    integer;
	v_sub     bigint;
	v_start   date;
	v_used    bigint;
	v_pending bigint;
	v_expires timestamptz;
	v_err     text;
	v_msg     text;
	v_resp    jsonb;
BEGIN
	-- Arguments: refused without a trace, as budgetd does.
	IF p_request_id IS NULL OR p_request_id !~ '^[A-Za-z0-9._:-]{1,64}$' THEN
		RETURN jsonb_build_object('status', 'refused', 'error',
		    'invalid_argument', 'message',
		    'request_id must be 1-64 characters of A-Z a-z 0-9 . _ : -');
	END IF;

	-- Idempotency: claim the id first. A concurrent call with the same
	-- id waits here until the first commits, then finds its row.
	v_digest := sha256(convert_to(concat_ws(E'\n', 'dossier_reserve',
	    p_dossier, p_company, p_contract, p_package, p_cost, p_day,
	    p_extension_cost, p_ttl), 'UTF8'));
	INSERT INTO requests (request_id, digest, time)
	    VALUES (p_request_id, v_digest, v_now) ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		SELECT digest, response INTO v_old FROM requests
		    WHERE request_id = p_request_id;
		IF v_old.digest = v_digest THEN
			RETURN v_old.response || '{"replayed": true}';
		END IF;
		RETURN jsonb_build_object('status', 'refused', 'error',
		    'request_id_reused', 'message', 'this request id was used '
		    'before for a different request; nothing was applied');
	END IF;

	-- The checks, in budgetd's order; EXIT = refuse with v_err.
	LOOP
		IF p_cost IS NULL OR p_cost <= 0 OR p_extension_cost < 0 OR
		    p_day IS NULL OR p_day > current_date OR
		    p_ttl <= '0' OR p_ttl > '366 days' THEN
			v_err := 'invalid_argument';
			v_msg := 'cost, date or ttl out of range';
			EXIT;
		END IF;
		PERFORM 1 FROM dossiers WHERE id = p_dossier;
		IF FOUND THEN
			v_err := 'already_exists';
			v_msg := format('dossier %s exists already', p_dossier);
			EXIT;
		END IF;
		SELECT * INTO v_company FROM companies WHERE number = p_company;
		IF NOT FOUND THEN
			v_err := 'not_found';
			v_msg := format('company %s does not exist', p_company);
			EXIT;
		END IF;
		-- R-PB: the contract row stays locked until COMMIT.
		SELECT * INTO v_k FROM contracts WHERE id = p_contract FOR UPDATE;
		IF NOT FOUND THEN
			v_err := 'not_found';
			v_msg := format('contract %s does not exist', p_contract);
			EXIT;
		END IF;
		IF v_company.absorbed_into IS NOT NULL AND
		    v_company.absorbed_on <= p_day THEN
			v_err := 'invalid_state';
			v_msg := format('company %s was absorbed', p_company);
			EXIT;
		END IF;
		SELECT * INTO v_rs FROM rulesets WHERE effective_from <= p_day
		    ORDER BY effective_from DESC LIMIT 1;
		IF NOT FOUND THEN
			v_err := 'no_rules_in_force';
			v_msg := format('no programme rule set is in force on %s',
			    p_day);
			EXIT;
		END IF;
		SELECT * INTO v_pkg FROM packages
		    WHERE ruleset = v_rs.name AND name = p_package;
		IF NOT FOUND THEN
			v_err := 'package_not_allowed';
			v_msg := format('rule set %s has no package %s', v_rs.name,
			    p_package);
			EXIT;
		END IF;
		-- R-RATE
		IF v_company.size <> 'large' OR v_company.maatwerk THEN
			v_rate := v_rs.sme_rate_bp;
		ELSIF v_company.nis2 AND v_rs.nis2_rate_bp IS NOT NULL THEN
			v_rate := v_rs.nis2_rate_bp;
		ELSE
			v_err := 'ineligible_company';
			v_msg := format('company %s is large and not a NIS2 entity',
			    p_company);
			EXIT;
		END IF;
		-- cost band, extensions, caps; R-SUB-1 rounds down
		IF p_cost < v_pkg.min_cost OR p_cost > v_pkg.max_cost THEN
			v_err := 'cost_out_of_band';
			v_msg := format('%s costs %s to %s cents under %s', p_package,
			    v_pkg.min_cost, v_pkg.max_cost, v_rs.name);
			EXIT;
		END IF;
		IF p_extension_cost > 0 AND NOT v_pkg.extensions THEN
			v_err := 'package_not_allowed';
			v_msg := format('%s takes no extensions', p_package);
			EXIT;
		END IF;
		IF v_rs.max_total_cost IS NOT NULL AND
		    p_cost + p_extension_cost > v_rs.max_total_cost THEN
			v_err := 'cost_out_of_band';
			v_msg := 'total cost above the rule set''s cap';
			EXIT;
		END IF;
		v_sub := (p_cost + p_extension_cost) * v_rate / 10000;
		IF v_rs.max_subsidy IS NOT NULL THEN
			v_sub := least(v_sub, v_rs.max_subsidy);
		END IF;
		IF v_k.closed THEN
			v_err := 'contract_closed';
			v_msg := format('contract %s is closed to new reservations',
			    v_k.id);
			EXIT;
		END IF;

		-- The single undertaking on the day; its companies stay locked
		-- until COMMIT, so two reservations of one undertaking serialise.
		v_group := undertaking_on(p_company, p_day);
		PERFORM 1 FROM companies WHERE number = ANY (v_group)
		    ORDER BY number FOR UPDATE;

		-- R-EXCL
		SELECT id, company, state, first_decision INTO v_x FROM dossiers
		    WHERE company = ANY (v_group) AND (state = 'reserved' OR
			(first_decision IS NOT NULL AND
			 first_decision > (p_day - make_interval(
			     years => v_rs.exclusion_years))::date AND
			 first_decision < (p_day + make_interval(
			     years => v_rs.exclusion_years))::date))
		    LIMIT 1;
		IF FOUND THEN
			v_err := 'exclusion_period';
			v_msg := CASE WHEN v_x.state = 'reserved' THEN format(
			    'company %s of this single undertaking already has '
			    'dossier %s reserved; one trajectory at a time',
			    v_x.company, v_x.id) ELSE format(
			    'company %s of this single undertaking had dossier %s '
			    'approved on %s', v_x.company, v_x.id,
			    v_x.first_decision) END;
			EXIT;
		END IF;

		-- R-PB
		IF v_k.budget - v_k.reserved - v_k.committed - v_k.paid < v_sub
		THEN
			v_err := 'contract_budget_exceeded';
			v_msg := format('contract %s has %s cents available; %s do '
			    'not fit', v_k.id, v_k.budget - v_k.reserved -
			    v_k.committed - v_k.paid, v_sub);
			EXIT;
		END IF;

		-- R-DM: grants in the window + pending reservations + this one.
		SELECT * INTO v_reg FROM dm_regimes WHERE effective_from <= p_day
		    ORDER BY effective_from DESC LIMIT 1;
		IF NOT FOUND THEN
			v_err := 'no_rules_in_force';
			v_msg := format('no de-minimis regime is in force on %s',
			    p_day);
			EXIT;
		END IF;
		IF v_reg.rolling THEN
			v_start := (p_day - interval '3 years')::date;
		ELSE
			v_start := (date_trunc('year', p_day) -
			    interval '2 years')::date;
		END IF;
		SELECT coalesce(sum(effective), 0) INTO v_used FROM grants
		    WHERE company = ANY (v_group) AND date BETWEEN v_start AND p_day;
		SELECT coalesce(sum(pending), 0) INTO v_pending FROM dossiers
		    WHERE company = ANY (v_group) AND pending > 0;
		IF v_used + v_pending + v_sub > v_reg.ceiling THEN
			v_err := 'deminimis_ceiling_exceeded';
			v_msg := format('the single undertaking of %s (%s companies) '
			    'would reach %s cents of de-minimis aid on %s: %s '
			    'granted in the window %s..%s and %s reserved, above '
			    'the %s ceiling of %s; nothing was applied', p_company,
			    cardinality(v_group), v_used + v_pending + v_sub, p_day,
			    v_used, v_start, p_day, v_pending + v_sub, v_reg.ceiling,
			    v_reg.name);
			EXIT;
		END IF;
		EXIT;
	END LOOP;

	IF v_err IS NOT NULL THEN
		v_resp := jsonb_build_object('status', 'refused', 'error', v_err,
		    'message', v_msg);
		UPDATE requests SET status = 'refused', response = v_resp
		    WHERE request_id = p_request_id;
		IF v_err IN ('contract_budget_exceeded', 'deminimis_ceiling_exceeded',
		    'exclusion_period', 'contract_closed') THEN
			PERFORM journal_append('refused', p_request_id, p_dossier,
			    p_company, p_contract, format(
			    E'command=dossier_reserve\nerror=%s\ntext=%s\n',
			    v_err, v_msg));
		END IF;
		RETURN v_resp;
	END IF;

	-- Apply.
	v_expires := v_now + p_ttl;
	INSERT INTO dossiers (id, company, contract, package, state, cost,
	    extension_cost, subsidy, pending, expires_at, rule_set, rate_bp,
	    reserved_on)
	VALUES (p_dossier, p_company, p_contract, p_package, 'reserved', p_cost,
	    p_extension_cost, v_sub, v_sub, v_expires, v_rs.name, v_rate, p_day);
	UPDATE contracts SET reserved = reserved + v_sub,
	    ndossiers = ndossiers + 1 WHERE id = p_contract;
	v_resp := jsonb_build_object('status', 'ok', 'dossier',
	    jsonb_build_object('id', p_dossier, 'company', p_company,
		'contract', p_contract, 'package', p_package,
		'state', 'reserved', 'cost_cents', p_cost,
		'extension_cost_cents', p_extension_cost,
		'subsidy_cents', v_sub, 'pending_cents', v_sub,
		'expires_at', ts_canon(v_expires), 'rule_set', v_rs.name,
		'rate_bp', v_rate, 'reserved_on', p_day));
	UPDATE requests SET status = 'ok', response = v_resp
	    WHERE request_id = p_request_id;
	-- Last, so that the journal's lock is held as briefly as it can be.
	PERFORM journal_append('dossier_reserve', p_request_id, p_dossier,
	    p_company, p_contract, format(E'dossier=%s\ncompany=%s\n'
	    'contract=%s\namount=%s\ndate=%s\npackage=%s\ncost=%s\n'
	    'extension_cost=%s\nsubsidy=%s\nexpires_at=%s\nrule_set=%s\n'
	    'rate_bp=%s\n', p_dossier, p_company, p_contract, v_sub, p_day,
	    p_package, p_cost, p_extension_cost, v_sub, ts_canon(v_expires),
	    v_rs.name, v_rate));
	RETURN v_resp;
END
$$;

-- I-4: every row's hash recomputed and linked to the row before it.
-- Returns the number of rows that do not verify (0 when the chain holds).
CREATE FUNCTION journal_verify() RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM (
		SELECT hash, prev_hash, entry,
		    lag(hash) OVER (ORDER BY seq) AS before,
		    row_number() OVER (ORDER BY seq) AS n
		FROM journal WHERE hash IS NOT NULL
	) j
	WHERE hash <> sha256(prev_hash || convert_to(entry, 'UTF8'))
	   OR (n = 1 AND prev_hash <> decode(repeat('00', 32), 'hex'))
	   OR (n > 1 AND prev_hash <> before)
$$;
