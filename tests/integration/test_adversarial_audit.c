/*
 * test_adversarial_audit.c: the auditor's commands (issue #4) pushed where
 * the other audit tests do not go: awkward strings through export (JSON
 * lines and CSV re-verified by a few lines of Python that follow only the
 * README), the edges of history, balance --as-of, report and drawdown,
 * and records other than journal entries changed behind budgetd's back
 * (a company, a control link, a grant, a dossier) with verify asked
 * whether it still holds.
 *
 * The tests that found bugs say so above them: where the bug is, the
 * sequence of events, and why it is one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "audit.h"
#include "store.pb-c.h"

#define CO_Z "0200303911"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

static void
adv_expect_error(json_t *j, const int *stp, const char *code, const char *what)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	int   st = *stp; /* read here: set while j was made */

	if (st != 1 || j == NULL ||
	    !json_is_string(h_json_get(j, "error.code")) ||
	    strcmp(h_json_str(j, "error.code"), code) != 0) {
		print_error("exit %d: %s\n", st, s != NULL ? s : "");
		free(s);
		json_decref(j);
		h_fail("%s: expected exit 1 with %s", what, code);
	}
	free(s);
	json_decref(j);
}

/* The first row of report --by BY --json: its value of dimension BY. */
static void
adv_report_key(const struct h_daemon *d, const char *by, char *out, size_t sz)
{
	json_t *j = au_ctl_json(d, 0, "report", "--by", by, NULL);
	json_t *rows = h_json_get(j, "rows");

	assert_int_equal(json_array_size(rows), 1);
	snprintf(out, sz, "%s", h_json_str(json_array_get(rows, 0), by));
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* verify: records other than journal entries changed                 */

static int
company_to_large(uint8_t **val, size_t *len)
{
	Budgetstore__Company *c =
	    budgetstore__company__unpack(NULL, *len, *val);

	assert_non_null(c);
	assert_int_equal(c->size, 2); /* small */
	c->size = 4;                  /* large */
	au_repack(&c->base, val, len);
	budgetstore__company__free_unpacked(c, NULL);
	return (1);
}

/*
 * BUG: daemon/replay.c, replay_diff_company (and check.c, which calls it
 * through replay_compare): a stored company is compared with the journal
 * only for its merger (absorbed_into, absorbed_on); its name, postcode,
 * size and flags, which the company_add entry records, are not. Change
 * AU_CO_X's stored size from small to large behind budgetd's back: the
 * report counts its grant under "large" (and a new reservation for it
 * would now be judged at the large-company rate), and verify says ok.
 * README ("verify": "compares them with every stored contract, dossier,
 * grant and company") and the issue ask verify to name such a change.
 */
static void
test_verify_company_changed(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	char             size[32];

	fx_verify_ok(d);
	adv_report_key(d, "size", size, sizeof(size));
	assert_string_equal(size, "small");
	assert_int_equal(
	    au_tamper(d, "companies", AU_CO_X, 10, company_to_large), 1);
	/* What the change does: parliament's table moved. */
	adv_report_key(d, "size", size, sizeof(size));
	assert_string_equal(size, "large");
	au_expect_verify_names(d, "company " AU_CO_X);
}

static int
link_drop(uint8_t **val, size_t *len)
{
	(void)val;
	(void)len;
	return (0);
}

/*
 * BUG: daemon/check.c (check_ledger and its parts) never reads the links
 * database: the control links that make single undertakings are replayed
 * from the journal (replay.c, replay_link) but never compared with what
 * is stored. Link AU_CO_X and AU_CO_Y, then delete the stored link (both
 * of its keys) behind budgetd's back: company show says AU_CO_Y is alone
 * in its undertaking, so the de-minimis ceiling and the exclusion period
 * are judged without AU_CO_X's grants, and verify says ok.
 */
static void
test_verify_link_dropped(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	json_t          *j;

	fx_company_link(d, AU_CO_X, AU_CO_Y, "2020-01-01");
	fx_verify_ok(d);
	j = au_ctl_json(d, 0, "company", "show", AU_CO_Y, NULL);
	assert_int_equal(json_array_size(h_json_get(j, "undertaking")), 2);
	json_decref(j);
	assert_int_equal(au_tamper(d, "links", "", 0, link_drop), 2);
	j = au_ctl_json(d, 0, "company", "show", AU_CO_Y, NULL);
	assert_int_equal(json_array_size(h_json_get(j, "undertaking")), 1);
	json_decref(j);
	au_expect_verify_names(d, AU_CO_Y);
}

/*
 * What verify must not take for tampering: a merger on the day a control
 * link between the same two companies began is stored over that link
 * (the same keys); the store holds the merger, as the journal's last
 * word on them says.
 */
static void
test_verify_link_then_merger(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");

	fx_company_link(d, AU_CO_X, AU_CO_Y, "2020-01-01");
	json_decref(au_ctl_json(d, 0, "company", "merge", AU_CO_Y, AU_CO_X,
	    "--on", "2020-01-01", NULL));
	fx_verify_ok(d);
}

static uint64_t grant_changed;

static int
grant_to_plus(uint8_t **val, size_t *len)
{
	Budgetstore__Grant *g = budgetstore__grant__unpack(NULL, *len, *val);

	char *was;

	assert_non_null(g);
	assert_string_equal(g->package, "MEDIUM");
	was = g->package;
	g->package = (char *)(uintptr_t) "PLUS";
	au_repack(&g->base, val, len);
	g->package = was; /* freed with the rest, not the literal */
	grant_changed = g->id;
	budgetstore__grant__free_unpacked(g, NULL);
	return (1);
}

/*
 * BUG: daemon/replay.c, replay_diff_grant compares a stored grant's
 * amount, effective amount, date and company with the journal, not its
 * kind, package, contract or dossier, which report groups by. Change D1's
 * grant from MEDIUM to PLUS behind budgetd's back: report --by package
 * now says PLUS, and verify says ok.
 */
static void
test_verify_grant_changed(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	char             pkg[32], want[64];

	fx_verify_ok(d);
	adv_report_key(d, "package", pkg, sizeof(pkg));
	assert_string_equal(pkg, "MEDIUM");
	assert_int_equal(au_tamper(d, "grants", AU_CO_X, 10, grant_to_plus), 1);
	adv_report_key(d, "package", pkg, sizeof(pkg));
	assert_string_equal(pkg, "PLUS");
	snprintf(want, sizeof(want), "grant %llu",
	    (unsigned long long)grant_changed);
	au_expect_verify_names(d, want);
}

static int
dossier_to_plus(uint8_t **val, size_t *len)
{
	Budgetstore__Dossier *m =
	    budgetstore__dossier__unpack(NULL, *len, *val);

	char *was;

	assert_non_null(m);
	assert_string_equal(m->package, "MEDIUM");
	was = m->package;
	m->package = (char *)(uintptr_t) "PLUS";
	au_repack(&m->base, val, len);
	m->package = was;
	budgetstore__dossier__free_unpacked(m, NULL);
	return (1);
}

/*
 * BUG: daemon/replay.c, replay_diff_dossier compares state and amounts,
 * not the package the journal says the dossier has (dossier_reserve, and
 * each dossier_approve, record it). Change D1's stored package from
 * MEDIUM to PLUS: dossier show says PLUS, an upgrade to PLUS is now
 * refused as no upgrade, and verify says ok.
 */
static void
test_verify_dossier_package_changed(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	json_t          *j;

	fx_verify_ok(d);
	assert_int_equal(au_tamper(d, "dossiers", "D1", 2, dossier_to_plus), 1);
	j = au_ctl_json(d, 0, "dossier", "show", "D1", NULL);
	assert_string_equal(h_json_str(j, "package"), "PLUS");
	json_decref(j);
	au_expect_verify_names(d, "dossier D1");
}

/* ------------------------------------------------------------------ */
/* history and balance --as-of of what was only ever refused          */

/*
 * BUG: daemon/cmd-journal.c, cmd_history_exec: a contract or company is
 * looked up as a record first, and one that does not exist is not_found,
 * whatever its history holds; only a dossier ("A dossier only ever
 * refused has a history, not a record") is answered from the index.
 * Sequence: as an auditor, contract open K9 and company add CO_Z (both
 * permission_denied, journaled with contract K9 and company CO_Z, and
 * indexed under them); then history --contract K9 and history --company
 * CO_Z say not_found. The issue and README ("history": "refused requests
 * included") ask for who tried what, when, with which request id.
 */
static void
test_history_of_refused_only(void **state)
{
	struct h_daemon *d = au_auditor_ledger_up(state);
	json_t          *j, *e;
	int              st;

	assert_int_equal(
	    au_ctl_as_nobody(d, NULL, "contract", "open", "K9", "--provider",
		"P", "--framework", "FW2", "--budget", "100", NULL),
	    1);
	assert_int_equal(
	    au_ctl_as_nobody(d, NULL, "company", "add", CO_Z, "--name", "Z",
		"--postcode", "9000", "--size", "small", NULL),
	    1);
	j = au_ctl_json_try(d, &st, "history", "--contract", "K9", NULL);
	if (st != 0 || json_array_size(h_json_get(j, "entries")) != 1) {
		char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

		print_error("exit %d: %s\n", st, s != NULL ? s : "");
		free(s);
		json_decref(j);
		h_fail("history --contract K9 does not show the refused "
		       "contract open");
	}
	e = json_array_get(h_json_get(j, "entries"), 0);
	assert_string_equal(h_json_str(e, "kind"), "refused");
	assert_string_equal(h_json_str(e, "error"), "permission_denied");
	assert_string_equal(h_json_str(e, "role"), "auditor");
	json_decref(j);

	j = au_ctl_json_try(d, &st, "history", "--company", CO_Z, NULL);
	if (st != 0 || json_array_size(h_json_get(j, "entries")) != 1) {
		json_decref(j);
		h_fail("history --company CO_Z does not show the refused "
		       "company add");
	}
	json_decref(j);

	/* Nothing at all about them: not_found, as before. */
	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--contract", "K8", NULL), &st,
	    "not_found", "history --contract K8");
	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--company", AU_CO_Y, NULL), &st,
	    "not_found", "history --company AU_CO_Y");
}

/*
 * BUG: daemon/cmd-balance.c, balance_walk counts every entry of the
 * contract's (or company's) history as a sign that it existed, refused
 * ones included. Sequence: as an auditor, contract open K9 (refused,
 * entry s1); the admin opens K9 (entry s1 + 1); balance --contract K9
 * --as-of s1 answers a contract with a budget of 0.00 "as of entry s1"
 * instead of not_found ("contract K9 was not open yet then", which it
 * says for s1 - 1). The same for a company added after a refused add.
 */
static void
test_balance_before_open_after_refusal(void **state)
{
	struct h_daemon *d = au_auditor_ledger_up(state);
	json_t          *j;
	char             s1[32], s2[32];
	int              st;

	assert_int_equal(
	    au_ctl_as_nobody(d, NULL, "contract", "open", "K9", "--provider",
		"P", "--framework", "FW2", "--budget", "100", NULL),
	    1);
	snprintf(s1, sizeof(s1), "%lld", (long long)au_seq(d));
	fx_contract_open(d, "K9", "100");
	assert_int_equal(
	    au_ctl_as_nobody(d, NULL, "company", "add", CO_Z, "--name", "Z",
		"--postcode", "9000", "--size", "small", NULL),
	    1);
	snprintf(s2, sizeof(s2), "%lld", (long long)au_seq(d));
	json_decref(au_ctl_json(d, 0, "company", "add", CO_Z, "--name", "Z",
	    "--postcode", "9000", "--size", "small", NULL));

	adv_expect_error(au_ctl_json_try(d, &st, "balance", "--contract", "K9",
			     "--as-of", s1, NULL),
	    &st, "not_found", "balance --contract K9 before it was opened");
	adv_expect_error(au_ctl_json_try(d, &st, "balance", "--company", CO_Z,
			     "--as-of", s2, NULL),
	    &st, "not_found", "balance --company CO_Z before it was added");
	/* Once open, it answers. */
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K9", "--as-of", "999999", NULL);
	assert_int_equal(h_json_int(j, "budget_cents"), 10000);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* drawdown --svg                                                      */

/*
 * BUG: client/ctl-svg.c, svg_text escapes XML's five characters and
 * turns C0 controls into blanks, but passes U+FFFE and U+FFFF through,
 * which XML 1.0 forbids (Char excludes #xFFFE and #xFFFF); the daemon's
 * text check (ledger.c, ledger_utf8_ok) accepts them in a provider name.
 * contract open KU --provider "Acme <&> \xef\xbf\xbf", then drawdown
 * --svg: the file is not well-formed XML (python3's parser: "not
 * well-formed (invalid token)").
 */
static void
test_drawdown_svg_noncharacters(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);
	char             path[AU_PATH_SZ], root[64];
	json_t          *j;

	au_need_python();
	json_decref(au_ctl_json(d, 0, "contract", "open", "KA", "--provider",
	    "Acme & \"Zonen\" <'t Hof> \xc3\xa9\xe2\x80\x94\xf0\x9f\x94\x92",
	    "--framework", "FW2", "--budget", "100000", NULL));
	json_decref(au_ctl_json(d, 0, "contract", "open", "KU", "--provider",
	    "Acme \xef\xbf\xbe\xef\xbf\xbf", "--framework", "FW2", "--budget",
	    "100000", NULL));
	/* No activity but the opening: one month, budget only. */
	j = au_ctl_json(d, 0, "drawdown", "--contract", "KA", NULL);
	assert_int_equal(json_array_size(h_json_get(j, "points")), 1);
	assert_int_equal(h_json_int(j, "points.0.budget_cents"), 10000000);
	assert_int_equal(h_json_int(j, "points.0.available_cents"), 10000000);
	json_decref(j);

	au_path(d, "ka.svg", path);
	assert_int_equal(au_ctl_to_file(d, "/dev/null", NULL, "drawdown",
			     "--contract", "KA", "--svg", path, NULL),
	    0);
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");

	au_path(d, "ku.svg", path);
	assert_int_equal(au_ctl_to_file(d, "/dev/null", NULL, "drawdown",
			     "--contract", "KU", "--svg", path, NULL),
	    0);
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
}

/* ------------------------------------------------------------------ */
/* export with awkward strings, re-verified from the README alone      */

/*
 * The README's description ("Verifying the journal yourself") and
 * nothing else: canonical(n) is name=value lines in the export's order,
 * every byte outside 0x21-0x7e and '%' as %XX; hash(0) is 32 zero bytes.
 * Applied to the JSON lines and to the CSV (RFC 4180, read strictly,
 * empty cells left out); both must agree with each other, field by
 * field, and end at the head hash given. Prints "ok N".
 */
static const char adv_readme_verifier[] =
    "import csv, hashlib, json, sys\n"
    "jl, cs, head = sys.argv[1], sys.argv[2], sys.argv[3]\n"
    "def esc(s):\n"
    "    return ''.join(chr(b) if 0x21 <= b <= 0x7e and b != 0x25\n"
    "                   else '%%%02X' % b for b in s.encode('utf-8'))\n"
    "def chain(entries):\n"
    "    prev = bytes(32)\n"
    "    for e in entries:\n"
    "        c = ''.join('%s=%s\\n' % (k, esc(str(v)))\n"
    "                    for k, v in e.items() if k != 'hash')\n"
    "        prev = hashlib.sha256(prev + c.encode('ascii')).digest()\n"
    "        if prev.hex() != e['hash']:\n"
    "            sys.exit('entry %s does not re-hash' % e.get('seq'))\n"
    "    return prev.hex()\n"
    "lines = [json.loads(l) for l in open(jl, encoding='utf-8')]\n"
    "with open(cs, newline='', encoding='utf-8') as f:\n"
    "    rows = list(csv.reader(f, strict=True))\n"
    "hdr = rows[0]\n"
    "crs = [{k: v for k, v in zip(hdr, r) if v != ''} for r in rows[1:]]\n"
    "if any(len(r) != len(hdr) for r in rows):\n"
    "    sys.exit('a CSV record has another number of fields')\n"
    "if [{k: str(v) for k, v in e.items()} for e in lines] != crs:\n"
    "    sys.exit('CSV and JSON lines differ')\n"
    "a, b = chain(lines), chain(crs)\n"
    "if a != head or b != head:\n"
    "    sys.exit('heads %s %s, status %s' % (a, b, head))\n"
    "print('ok', len(lines))\n";

/*
 * Names, reasons and sources with commas, double quotes, leading and
 * trailing blanks, '%', backslashes, '=' and '+' first, two-, three- and
 * four-byte UTF-8; a rules file with CRLF line ends, a tab and UTF-8 in
 * its comments (journaled as text); refusals with what was asked. The
 * export re-verifies outside budgetd (scripts/verify-journal and the
 * README alone, from JSON lines and from CSV), CSV is strict RFC 4180,
 * and every awkward string comes back byte for byte.
 */
static const char *const adv_strings[] = {
    " Lead, \"Quoted\" trail ",
    "Caf\xc3\xa9 100% \xe2\x80\x94 \xf0\x9f\x94\x92 BV",
    "=1+2,\\n\\\"x\\\"",
    "'single' ;semi; \xe2\x80\xa8sep",
};

static void
test_export_awkward_strings(void **state)
{
	struct h_daemon *d;
	struct au_head   h;
	struct h_proc    p;
	char             rules[AU_PATH_SZ], jl[AU_PATH_SZ], cs[AU_PATH_SZ];
	char            *src, *crlf, *text;
	const char      *why = NULL;
	size_t           len, i, o, n;
	json_t          *csv, *lines;
	int              st, found[4] = {0, 0, 0, 0};

	au_need_python();
	*state = d = h_daemon_up(NULL);
	/* The shipped rules, CRLF line ends, a comment with a tab. */
	src = au_read_file(BUDGET_RULES_PATH, &len);
	if ((crlf = malloc(2 * len + 64)) == NULL)
		h_fail("out of memory");
	for (i = o = 0; i < len; i++) {
		if (src[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = src[i];
	}
	n = (size_t)snprintf(crlf + o, 64, "#\tend \xe2\x80\x94 100%%\r\n");
	au_path(d, "crlf.rules", rules);
	au_write_file(rules, crlf, o + n);
	free(src);
	free(crlf);
	json_decref(au_ctl_json(d, 0, "rules", "load", rules, NULL));

	json_decref(au_ctl_json(d, 0, "contract", "open", "K", "--provider",
	    adv_strings[2], "--framework", "FW2", "--budget", "20000", NULL));
	json_decref(au_ctl_json(d, 0, "company", "add", AU_CO_X, "--name",
	    adv_strings[0], "--postcode", "9000", "--size", "small", NULL));
	json_decref(au_ctl_json(d, 0, "company", "add", AU_CO_Y, "--name",
	    adv_strings[1], "--postcode", "2000", "--size", "micro", NULL));
	json_decref(au_ctl_json(d, 0, "deminimis", "declare", AU_CO_Y,
	    "--amount", "1234.56", "--granted", "2025-01-02", "--source",
	    adv_strings[3], NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D1", "--company",
	    AU_CO_X, "--contract", "K", "--package", "MEDIUM", "--cost",
	    "18000", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "approve", "D1", NULL));
	/* Refused and journaled: over budget, and below usage. */
	adv_expect_error(au_ctl_json_try(d, &st, "dossier", "reserve", "D2",
			     "--company", AU_CO_Y, "--contract", "K",
			     "--package", "PLUS", "--cost", "30000", NULL),
	    &st, "contract_budget_exceeded", "reserve D2");
	adv_expect_error(au_ctl_json_try(d, &st, "contract", "amend", "K",
			     "--budget", "1", "--reason", adv_strings[0], NULL),
	    &st, "budget_below_usage", "amend K");
	json_decref(au_ctl_json(d, 0, "dossier", "withdraw", "D1", "--reason",
	    adv_strings[1], NULL));
	fx_verify_ok(d);
	au_head(d, &h);

	au_path(d, "journal.jsonl", jl);
	au_path(d, "journal.csv", cs);
	au_export_verified(d, jl, 0, NULL, h.seq, h.hash);
	assert_int_equal(
	    au_ctl_to_file(d, cs, NULL, "export", "--format", "csv", NULL), 0);
	text = au_read_file(cs, &len);
	if ((csv = au_csv_parse(text, len, &why)) == NULL)
		h_fail("export --format csv is not RFC 4180: %s", why);
	free(text);
	assert_int_equal(json_array_size(csv), (size_t)h.seq + 1);
	json_decref(csv);

	au_python(&p, "-c", adv_readme_verifier, jl, cs, h.hash, NULL);
	if (p.status != 0 || strncmp(p.out, "ok ", 3) != 0) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_proc_free(&p);
		h_fail("the README's description does not re-verify the "
		       "export");
	}
	h_proc_free(&p);

	/* Every awkward string came back as it went in. */
	lines = au_jsonl(jl);
	for (i = 0; i < json_array_size(lines); i++) {
		json_t     *e = json_array_get(lines, i), *v;
		const char *key;

		json_object_foreach(e, key, v) {
			for (n = 0; n < 4; n++)
				if (json_is_string(v) &&
				    strcmp(json_string_value(v),
					adv_strings[n]) == 0)
					found[n]++;
		}
		if (i == 0) {
			v = json_object_get(e, "text");
			assert_non_null(v);
			assert_non_null(strstr(json_string_value(v), "\r\n"));
			assert_non_null(strstr(json_string_value(v), "\t"));
		}
	}
	json_decref(lines);
	for (n = 0; n < 4; n++)
		if (found[n] == 0)
			h_fail("export: string %zu did not come back", n);
}

/* ------------------------------------------------------------------ */
/* history edges                                                       */

/* history ARGS --json: its entries' sequence numbers into seqs. */
static size_t
adv_history(const struct h_daemon *d, int64_t *seqs, size_t max, int *more,
    const char *a1, const char *a2, const char *a3, const char *a4,
    const char *a5, const char *a6)
{
	json_t *j = au_ctl_json(d, 0, "history", a1, a2, a3, a4, a5, a6, NULL);
	json_t *ents = h_json_get(j, "entries");
	size_t  i, n = json_array_size(ents);

	assert_true(n <= max);
	for (i = 0; i < n; i++)
		seqs[i] = h_json_int(json_array_get(ents, i), "seq");
	if (more != NULL)
		*more = h_json_bool(j, "more");
	assert_int_equal(h_json_int(j, "count"), (json_int_t)n);
	json_decref(j);
	return (n);
}

/*
 * --since inclusive and --until exclusive on an entry's exact time,
 * since == until (nothing), --limit exactly the count (no "more") and one
 * less ("more"), a company's history after a link (the other company's
 * entries, from before the link too), unknown ids (not_found) and bad
 * times (invalid_argument).
 */
static void
test_history_edges(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	json_t          *j, *ents;
	int64_t          seqs[64], all[64];
	char             t[64], t1[64];
	size_t           n, i;
	int              more, st;

	n = adv_history(
	    d, all, 64, &more, "--dossier", "D1", NULL, NULL, NULL, NULL);
	assert_int_equal(n, 3); /* reserve, approve, pay */
	assert_false(more);
	j = au_ctl_json(d, 0, "history", "--dossier", "D1", NULL);
	ents = h_json_get(j, "entries");
	snprintf(
	    t, sizeof(t), "%s", h_json_str(json_array_get(ents, 1), "time"));
	au_time_str(au_time_us(t) + 1, t1, sizeof(t1));
	json_decref(j);

	/* Since the approval's own time: it and the payment. */
	n = adv_history(
	    d, seqs, 64, NULL, "--dossier", "D1", "--since", t, NULL, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], all[1]);
	/* Until the approval's own time: the reservation only. */
	n = adv_history(
	    d, seqs, 64, NULL, "--dossier", "D1", "--until", t, NULL, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], all[0]);
	/* [t, t): nothing; [t, t + 1us): the approval alone. */
	n = adv_history(
	    d, seqs, 64, NULL, "--dossier", "D1", "--since", t, "--until", t);
	assert_int_equal(n, 0);
	n = adv_history(
	    d, seqs, 64, NULL, "--dossier", "D1", "--since", t, "--until", t1);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], all[1]);

	/* --limit at the count, and one below. */
	n = adv_history(
	    d, seqs, 64, &more, "--dossier", "D1", "--limit", "3", NULL, NULL);
	assert_int_equal(n, 3);
	assert_false(more);
	n = adv_history(
	    d, seqs, 64, &more, "--dossier", "D1", "--limit", "2", NULL, NULL);
	assert_int_equal(n, 2);
	assert_true(more);

	/* Y's history, once linked to X, holds X's entries from before. */
	n = adv_history(
	    d, seqs, 64, NULL, "--company", AU_CO_Y, NULL, NULL, NULL, NULL);
	assert_int_equal(n, 1);
	fx_company_link(d, AU_CO_X, AU_CO_Y, "2020-01-01");
	n = adv_history(
	    d, seqs, 64, NULL, "--company", AU_CO_Y, NULL, NULL, NULL, NULL);
	assert_int_equal(n, 6); /* two adds, D1's three, the link */
	for (i = 1; i < n; i++)
		assert_true(seqs[i] > seqs[i - 1]);

	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--dossier", "NOPE", NULL), &st,
	    "not_found", "history --dossier NOPE");
	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--contract", "NOPE", NULL), &st,
	    "not_found", "history --contract NOPE");
	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--company", "0200405265", NULL),
	    &st, "not_found", "history --company unknown");
	adv_expect_error(au_ctl_json_try(d, &st, "history", "--dossier", "D1",
			     "--since", "2025-02-29", NULL),
	    &st, "invalid_argument", "history --since 2025-02-29");
	adv_expect_error(au_ctl_json_try(d, &st, "history", "--dossier", "D1",
			     "--until", "2025-01-01T10:00:00", NULL),
	    &st, "invalid_argument", "history --until without Z");
}

/* ------------------------------------------------------------------ */
/* balance --as-of edges                                               */

/*
 * Badly formed and impossible times are invalid_argument and change
 * nothing; a time equal to an entry's includes it, one a microsecond
 * before does not; before the contract: not_found; the future and a
 * sequence number past the head: the last entry.
 */
static void
test_balance_edges(void **state)
{
	static const char *const bad[] = {"2025-02-29", "2024-02-30",
	    "2024-13-01", "2024-00-10", "2024-01-01T24:00:00Z",
	    "2024-01-01T23:59:60Z", "2024-01-01T10:00:00",
	    "2024-01-01T10:00:00.Z", "2024-01-01T10:00:00.1234567Z",
	    "2024-01-01 10:00:00Z", "2024-1-1", "1e3", "-1", "1999-12-31",
	    "2200-01-01", "yesterday"};
	struct h_daemon         *d = au_ledger_up(state, "100000", "1000");
	struct au_head           before, after;
	json_t                  *j, *ents;
	char                     t[64], t0[64], seq[32];
	size_t                   i;
	int                      st;

	au_head(d, &before);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		adv_expect_error(
		    au_ctl_json_try(d, &st, "balance", "--contract", "K",
			"--as-of", bad[i], NULL),
		    &st, "invalid_argument", bad[i]);
	au_head(d, &after);
	assert_int_equal(after.seq, before.seq);
	assert_string_equal(after.hash, before.hash);

	/* The approval's exact time, and a microsecond before it. */
	j = au_ctl_json(d, 0, "history", "--dossier", "D1", NULL);
	ents = h_json_get(j, "entries");
	snprintf(
	    t, sizeof(t), "%s", h_json_str(json_array_get(ents, 1), "time"));
	snprintf(seq, sizeof(seq), "%lld",
	    (long long)h_json_int(json_array_get(ents, 1), "seq"));
	json_decref(j);
	j = au_ctl_json(d, 0, "balance", "--contract", "K", "--as-of", t, NULL);
	assert_int_equal(h_json_int(j, "committed_cents"), 900000);
	assert_int_equal(h_json_int(j, "reserved_cents"), 0);
	assert_string_equal(h_json_str(j, "as_of"), t);
	json_decref(j);
	au_time_str(au_time_us(t) - 1, t0, sizeof(t0));
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", t0, NULL);
	assert_int_equal(h_json_int(j, "committed_cents"), 0);
	assert_int_equal(h_json_int(j, "reserved_cents"), 900000);
	json_decref(j);

	/* Before anything: not open yet. */
	adv_expect_error(au_ctl_json_try(d, &st, "balance", "--contract", "K",
			     "--as-of", "2000-01-01", NULL),
	    &st, "not_found", "balance before the contract");
	/* The future, and past the head: where the journal stands. */
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", "2199-12-31", NULL);
	assert_int_equal(h_json_int(j, "paid_cents"), 100000);
	assert_int_equal(h_json_int(j, "as_of_seq"), before.seq);
	json_decref(j);
	j = au_ctl_json(d, 0, "balance", "--contract", "K", "--as-of",
	    "18446744073709551615", NULL);
	assert_int_equal(h_json_int(j, "paid_cents"), 100000);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* report edges                                                        */

/* The day before date ("YYYY-MM-DD"), into out. */
static void
adv_day_before(const char *date, char out[FX_DATE_SZ])
{
	struct tm tm;
	time_t    t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) !=
	    3)
		h_fail("not a date: %s", date);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = 12;
	t = timegm(&tm) - 86400;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, FX_DATE_SZ, "%Y-%m-%d", &tm) != FX_DATE_SZ - 1)
		h_fail("cannot format a date");
}

/*
 * Every dimension alone and all eight at once; a bad or repeated one
 * refused with invalid_argument; --from and --to include the decision
 * date itself; an empty ledger's report has a total of zeros and its CSV
 * is RFC 4180 (a header and the total row).
 */
static void
test_report_edges(void **state)
{
	static const char *const dims[] = {"year", "province", "size",
	    "package", "provider", "contract", "framework", "category"};
	struct h_daemon         *d = au_ledger_up(state, "100000", "1000");
	struct h_daemon         *e;
	json_t                  *j, *csv;
	char                     today[FX_DATE_SZ], yday[FX_DATE_SZ];
	char                     path[AU_PATH_SZ], *text;
	const char              *why = NULL;
	size_t                   i, len;
	int                      st;

	for (i = 0; i < 8; i++) {
		j = au_ctl_json(d, 0, "report", "--by", dims[i], NULL);
		assert_int_equal(json_array_size(h_json_get(j, "rows")), 1);
		assert_int_equal(h_json_int(j, "total.companies"), 1);
		assert_int_equal(h_json_int(j, "total.granted_cents"), 900000);
		json_decref(j);
	}
	j = au_ctl_json(d, 0, "report", "--by",
	    "year,province,size,package,provider,contract,framework,category",
	    NULL);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 1);
	assert_string_equal(h_json_str(j, "rows.0.category"), "initial");
	json_decref(j);
	adv_expect_error(
	    au_ctl_json_try(d, &st, "report", "--by", "Year", NULL), &st,
	    "invalid_argument", "report --by Year");
	adv_expect_error(
	    au_ctl_json_try(d, &st, "report", "--by", "size,size", NULL), &st,
	    "invalid_argument", "report --by size,size");
	adv_expect_error(au_ctl_json_try(d, &st, "report", "--by", "year",
			     "--from", "2025-02-29", NULL),
	    &st, "invalid_argument", "report --from 2025-02-29");
	/* A range that ends before it starts is a mistake, not "nothing". */
	adv_expect_error(
	    au_ctl_json_try(d, &st, "report", "--by", "year", "--from",
		"2024-02-01", "--to", "2024-01-31", NULL),
	    &st, "invalid_argument", "report --from after --to");
	adv_expect_error(
	    au_ctl_json_try(d, &st, "history", "--dossier", "D1", "--since",
		"2024-02-01", "--until", "2024-01-31", NULL),
	    &st, "invalid_argument", "history --since after --until");

	/* The decision date: --from and --to on it include it. */
	j = au_ctl_json(d, 0, "history", "--dossier", "D1", NULL);
	snprintf(today, sizeof(today), "%s", h_json_str(j, "entries.1.date"));
	assert_string_equal(h_json_str(j, "entries.1.kind"), "dossier_approve");
	json_decref(j);
	adv_day_before(today, yday);
	j = au_ctl_json(d, 0, "report", "--by", "year", "--from", today, "--to",
	    today, NULL);
	assert_int_equal(h_json_int(j, "total.grant_events"), 1);
	json_decref(j);
	j = au_ctl_json(d, 0, "report", "--by", "year", "--to", yday, NULL);
	assert_int_equal(h_json_int(j, "total.grant_events"), 0);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 0);
	json_decref(j);

	/* An empty ledger. */
	e = h_daemon_up(NULL);
	j = au_ctl_json(e, 0, "report", "--by", "year,province", NULL);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 0);
	assert_int_equal(h_json_int(j, "total.companies"), 0);
	assert_int_equal(h_json_int(j, "total.granted_cents"), 0);
	json_decref(j);
	au_path(e, "empty.csv", path);
	assert_int_equal(au_ctl_to_file(e, path, NULL, "report", "--by",
			     "year,province", "--csv", NULL),
	    0);
	text = au_read_file(path, &len);
	if ((csv = au_csv_parse(text, len, &why)) == NULL)
		h_fail("report --csv is not RFC 4180: %s", why);
	free(text);
	assert_int_equal(json_array_size(csv), 2);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(csv, 1), 0)),
	    "total");
	json_decref(csv);
	assert_int_equal(h_daemon_stop(e), 0);
	h_daemon_free(e);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_export_awkward_strings),
	    T(test_history_edges),
	    T(test_balance_edges),
	    T(test_report_edges),
	    T(test_history_of_refused_only),
	    T(test_balance_before_open_after_refusal),
	    T(test_drawdown_svg_noncharacters),
	    T(test_verify_company_changed),
	    T(test_verify_link_dropped),
	    T(test_verify_link_then_merger),
	    T(test_verify_grant_changed),
	    T(test_verify_dossier_package_changed),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
