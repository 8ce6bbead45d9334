/*
 * test_roles.c: roles (issue #5, SPEC §6, README "Configuration", the role
 * table). The peer's uid and gid (SO_PEERCRED) map to admin, controller,
 * workflow or auditor through [roles]; root and the daemon's own user are
 * always admin; everyone else is refused, with nothing configured too.
 *
 * The matrix: every budgetctl command, and a batch over a raw connection,
 * run as each of the four roles and as an unmapped uid, on objects made
 * for that role beforehand, is either done (exit 0) or refused with
 * permission_denied exactly as the README's table says. A refused command
 * that changes the ledger adds exactly one journal entry (kind refused,
 * error permission_denied, the uid, the role and the command name); a
 * refused read adds none; a command that is allowed is journaled, if at
 * all, under the caller's uid and role.
 *
 * Also: groups (@gid, primary or from the user database), the default with
 * nothing configured, root and the daemon's own user always admin, SIGHUP
 * re-reading [roles] for new connections only, and a refusal's journal
 * entry naming what was asked (so the contract's history shows it).
 *
 * Users are numeric uids without an /etc/passwd entry (4001-4010) and
 * groups numeric gids (5002, 5003); the tests run budgetctl as them
 * (h_ctl_as, or setpriv for groups) and so need root: they skip without.
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

#ifndef T5_RULES_FILE
#error "T5_RULES_FILE must be defined by the build"
#endif

#define SETPRIV "/usr/bin/setpriv"

/* What a command needs (README's role table, one row each). */
enum need {
	NEED_READ,    /* every role */
	NEED_DOSSIER, /* workflow, controller, admin */
	NEED_CONTROL, /* controller, admin */
	NEED_BACKUP,  /* auditor, admin */
};

/* The roles of the matrix, strongest last; "none" is an unmapped uid. */
struct role {
	const char *name;
	uid_t       uid;
	const char *tag;    /* in the names of the role's own objects */
	unsigned    serial; /* its companies: serial + 1 ... */
};

static const struct role roles[] = {
    {"auditor", 4001, "au", 1000},
    {"workflow", 4002, "wf", 2000},
    {"controller", 4003, "ct", 3000},
    {"admin", 4004, "ad", 4000},
    {"none", 4005, "no", 5000},
};
#define NROLES (sizeof(roles) / sizeof(roles[0]))

#define ROLES_CONFIG \
	"[budgetd]\nsocket_mode = 0666\n" \
	"[roles]\nauditor = 4001\nworkflow = 4002\ncontroller = 4003\n" \
	"admin = 4004\n"

/*
 * Companies of a role, by offset from its serial: A reserves D1 and gets
 * declared aid, B holds D2 (made by root, approved), C is added by the
 * role, L1 and L2 are linked, M1 merged into M2, X added in the batch.
 */
enum { CO_A = 1, CO_B, CO_C, CO_L1, CO_L2, CO_M1, CO_M2, CO_X };

/*
 * A budgetctl command of the matrix. args are the words after "--json";
 * "@..." words are replaced by the role's own objects (see expand). A
 * refusal is journaled with what was asked: field (NULL: nothing to
 * check) holds word, expanded.
 */
struct command {
	const char *name; /* the daemon's name, as journaled */
	enum need   need;
	int         mutates; /* changes the ledger: carries a request id */
	const char *args[16];
	const char *field;
	const char *word;
};

/*
 * In this order: each allowed step leaves what the next one needs. A
 * rules_load refusal names no entity: what was asked is the whole file.
 */
static const struct command commands[] = {
    {"status", NEED_READ, 0, {"status"}, NULL, NULL},
    {"rules_show", NEED_READ, 0, {"rules", "show"}, NULL, NULL},
    {"rules_load", NEED_CONTROL, 1, {"rules", "load", "@RULES"}, NULL, NULL},
    {"contract_open", NEED_CONTROL, 1,
	{"contract", "open", "@CO", "--provider", "P", "--framework", "FW2",
	    "--budget", "1000"},
	"contract", "@CO"},
    {"contract_amend", NEED_CONTROL, 1,
	{"contract", "amend", "@CO", "--budget", "2000", "--reason", "more"},
	"contract", "@CO"},
    {"contract_close", NEED_CONTROL, 1,
	{"contract", "close", "@CO", "--reason", "done"}, "contract", "@CO"},
    {"contract_show", NEED_READ, 0, {"contract", "show", "@K"}, NULL, NULL},
    {"contract_list", NEED_READ, 0, {"contract", "list"}, NULL, NULL},
    {"company_add", NEED_DOSSIER, 1,
	{"company", "add", "@C", "--name", "Roles BV", "--postcode", "3000",
	    "--size", "small"},
	"company", "@C"},
    {"company_link", NEED_CONTROL, 1,
	{"company", "link", "@L1", "@L2", "--since", "2024-01-01"}, "company",
	"@L1"},
    {"company_merge", NEED_CONTROL, 1,
	{"company", "merge", "@M1", "@M2", "--on", "2024-01-01"}, "company2",
	"@M1"},
    {"company_show", NEED_READ, 0, {"company", "show", "@A"}, NULL, NULL},
    {"deminimis_declare", NEED_CONTROL, 1,
	{"deminimis", "declare", "@A", "--amount", "1000", "--granted", "@PAST",
	    "--source", "roles"},
	"company", "@A"},
    {"deminimis_show", NEED_READ, 0, {"deminimis", "show", "@A"}, NULL, NULL},
    {"dossier_reserve", NEED_DOSSIER, 1,
	{"dossier", "reserve", "@D1", "--company", "@A", "--contract", "@K",
	    "--package", "START", "--cost", "10000"},
	"dossier", "@D1"},
    {"dossier_approve", NEED_DOSSIER, 1, {"dossier", "approve", "@D1"},
	"dossier", "@D1"},
    {"dossier_amend", NEED_DOSSIER, 1,
	{"dossier", "amend", "@D1", "--package", "MEDIUM", "--cost", "18000"},
	"dossier", "@D1"},
    {"dossier_cancel", NEED_DOSSIER, 1,
	{"dossier", "cancel", "@D1", "--reason", "not now"}, "dossier", "@D1"},
    {"dossier_pay", NEED_DOSSIER, 1,
	{"dossier", "pay", "@D1", "--amount", "5000"}, "dossier", "@D1"},
    {"dossier_withdraw", NEED_DOSSIER, 1,
	{"dossier", "withdraw", "@D2", "--reason", "stops"}, "dossier", "@D2"},
    {"dossier_complete", NEED_DOSSIER, 1, {"dossier", "complete", "@D1"},
	"dossier", "@D1"},
    {"dossier_close", NEED_DOSSIER, 1, {"dossier", "close", "@D1"}, "dossier",
	"@D1"},
    {"dossier_show", NEED_READ, 0, {"dossier", "show", "@D2"}, NULL, NULL},
    {"history", NEED_READ, 0, {"history", "--dossier", "@D2"}, NULL, NULL},
    {"balance", NEED_READ, 0,
	{"balance", "--contract", "@K", "--as-of", "@SEQ"}, NULL, NULL},
    {"report", NEED_READ, 0, {"report", "--by", "year"}, NULL, NULL},
    {"drawdown", NEED_READ, 0, {"drawdown", "--contract", "@K"}, NULL, NULL},
    {"verify", NEED_READ, 0, {"verify"}, NULL, NULL},
    {"export", NEED_READ, 0, {"export"}, NULL, NULL},
    {"backup", NEED_BACKUP, 0, {"backup", "@BACKUP"}, NULL, NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The role's words for "@..." arguments. */
struct words {
	char co[FX_ID_SZ], k[FX_ID_SZ], d1[FX_ID_SZ], d2[FX_ID_SZ];
	char a[FX_RID_SZ], c[FX_RID_SZ], l1[FX_RID_SZ], l2[FX_RID_SZ];
	char m1[FX_RID_SZ], m2[FX_RID_SZ];
	char past[FX_DATE_SZ];
	char seq[24]; /* the journal after roles_ledger */
	char backup[H_PATH_MAX + 32];
};

static void
need_root(void)
{
	if (!h_can_switch_user()) {
		print_message("skipped: the role tests run budgetctl as other "
			      "uids, which needs root\n");
		skip();
	}
}

static int
allowed(enum need need, const char *role)
{
	switch (need) {
	case NEED_READ:
		return (strcmp(role, "none") != 0);
	case NEED_DOSSIER:
		return (strcmp(role, "workflow") == 0 ||
		    strcmp(role, "controller") == 0 ||
		    strcmp(role, "admin") == 0);
	case NEED_CONTROL:
		return (strcmp(role, "controller") == 0 ||
		    strcmp(role, "admin") == 0);
	case NEED_BACKUP:
		return (
		    strcmp(role, "auditor") == 0 || strcmp(role, "admin") == 0);
	}
	return (0);
}

/*
 * A daemon others can reach: socket mode 0666 (in the config) and a
 * directory they may traverse.
 */
static struct h_daemon *
roles_up(const char *config)
{
	struct h_daemon *d = h_daemon_new(config);

	if (chmod(d->dir, 0755) == -1)
		h_fail("chmod %s: %s", d->dir, strerror(errno));
	h_daemon_start(d);
	return (d);
}

/* The journal's head once roles_ledger is done. */
static uint64_t ledger_seq;

static void
words_for(const struct h_daemon *d, const struct role *r, struct words *w)
{
	snprintf(w->co, sizeof(w->co), "CO-%s", r->tag);
	snprintf(w->k, sizeof(w->k), "K-%s", r->tag);
	snprintf(w->d1, sizeof(w->d1), "D1-%s", r->tag);
	snprintf(w->d2, sizeof(w->d2), "D2-%s", r->tag);
	fx_rid(r->serial + CO_A, w->a);
	fx_rid(r->serial + CO_C, w->c);
	fx_rid(r->serial + CO_L1, w->l1);
	fx_rid(r->serial + CO_L2, w->l2);
	fx_rid(r->serial + CO_M1, w->m1);
	fx_rid(r->serial + CO_M2, w->m2);
	fx_date_ago(100, w->past);
	snprintf(w->backup, sizeof(w->backup), "%s/backup-%s", d->dir, r->tag);
	snprintf(
	    w->seq, sizeof(w->seq), "%llu", (unsigned long long)ledger_seq);
}

static const char *
expand(const char *arg, const struct words *w)
{
	static const struct {
		const char *word;
		size_t      off;
	} map[] = {
	    {"@CO", offsetof(struct words, co)},
	    {"@K", offsetof(struct words, k)},
	    {"@D1", offsetof(struct words, d1)},
	    {"@D2", offsetof(struct words, d2)},
	    {"@A", offsetof(struct words, a)},
	    {"@C", offsetof(struct words, c)},
	    {"@L1", offsetof(struct words, l1)},
	    {"@L2", offsetof(struct words, l2)},
	    {"@M1", offsetof(struct words, m1)},
	    {"@M2", offsetof(struct words, m2)},
	    {"@PAST", offsetof(struct words, past)},
	    {"@SEQ", offsetof(struct words, seq)},
	    {"@BACKUP", offsetof(struct words, backup)},
	};
	size_t i;

	if (strcmp(arg, "@RULES") == 0)
		return (T5_RULES_FILE);
	if (arg[0] != '@')
		return (arg);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(arg, map[i].word) == 0)
			return ((const char *)w + map[i].off);
	}
	h_fail("roles: unknown word %s", arg);
}

/*
 * As root (always admin): the shipped rules, and for every role its
 * contract K, companies A, B, L1, L2, M1, M2 and dossier D2 (reserved on
 * B and approved).
 */
static void
roles_ledger(const struct h_daemon *d)
{
	struct words w;
	char         b[FX_RID_SZ];
	size_t       i;

	fx_rules_load(d);
	for (i = 0; i < NROLES; i++) {
		words_for(d, &roles[i], &w);
		fx_contract_open(d, w.k, "1000000");
		fx_companies_add(d, roles[i].serial + CO_A, 2);
		fx_companies_add(d, roles[i].serial + CO_L1, 4);
		fx_rid(roles[i].serial + CO_B, b);
		json_decref(fx_ctl_json(d, 0, "dossier", "reserve", w.d2,
		    "--company", b, "--contract", w.k, "--package", "START",
		    "--cost", "10000", NULL));
		json_decref(
		    fx_ctl_json(d, 0, "dossier", "approve", w.d2, NULL));
	}
	ledger_seq = ops_journal_seq(d);
}

/* budgetctl exited 1 with permission_denied; p is freed. */
static void
expect_denied(struct h_proc *p)
{
	h_proc_expect(p, 1);
	assert_string_equal(
	    h_json_str(h_json(p), "error.code"), "permission_denied");
	h_proc_free(p);
}

/*
 * The journal entries after seq: exactly one refusal of command by uid
 * as role (want_refusal), naming what was asked (field = value, unless
 * field is NULL) and, for a command that changes the ledger (with_id),
 * its request id; or else none that is a refusal, each under uid and
 * role.
 */
static void
check_journal(const struct h_daemon *d, uint64_t before, int want_refusal,
    int with_id, const char *command, const struct role *r, const char *what,
    const char *field, const char *value)
{
	uint64_t after = ops_journal_seq(d);
	json_t  *entries, *e;
	size_t   i;

	if (want_refusal && after != before + 1)
		h_fail("%s as %s: %llu journal entries, expected one refusal",
		    what, r->name, (unsigned long long)(after - before));
	if (after == before)
		return;
	entries = ops_journal(d, before + 1);
	if (json_array_size(entries) != after - before)
		h_fail("%s: export gave %zu entries, status %llu", what,
		    json_array_size(entries),
		    (unsigned long long)(after - before));
	json_array_foreach(entries, i, e) {
		const char *kind = ops_entry_str(e, "kind");

		if (ops_entry_int(e, "uid") != (int64_t)r->uid ||
		    strcmp(ops_entry_str(e, "role"), r->name) != 0)
			h_fail("%s as %s (uid %u): entry %lld is by uid %lld, "
			       "role %s",
			    what, r->name, (unsigned)r->uid,
			    (long long)ops_entry_int(e, "seq"),
			    (long long)ops_entry_int(e, "uid"),
			    ops_entry_str(e, "role"));
		if (!want_refusal) {
			if (strcmp(kind, "refused") == 0)
				h_fail("%s as %s was allowed, yet journaled "
				       "a refusal (%s)",
				    what, r->name, ops_entry_str(e, "error"));
			continue;
		}
		if (strcmp(kind, "refused") != 0 ||
		    strcmp(ops_entry_str(e, "error"), "permission_denied") !=
			0 ||
		    strcmp(ops_entry_str(e, "command"), command) != 0)
			h_fail("%s as %s: journaled kind %s, error %s, "
			       "command %s; expected a permission_denied "
			       "refusal of %s",
			    what, r->name, kind, ops_entry_str(e, "error"),
			    ops_entry_str(e, "command"), command);
		if (with_id && ops_entry_str(e, "request_id")[0] == '\0')
			h_fail("%s as %s: the refusal has no request id", what,
			    r->name);
		if (field != NULL &&
		    strcmp(ops_entry_str(e, field), value) != 0)
			h_fail("%s as %s: the refusal's %s is \"%s\", not "
			       "what was asked (%s)",
			    what, r->name, field, ops_entry_str(e, field),
			    value);
	}
	json_decref(entries);
}

/* One command as one role: done or refused as the table says. */
static void
run_command(const struct h_daemon *d, const struct role *r,
    const struct command *c, const struct words *w)
{
	const char   *argv[40];
	struct h_proc p;
	uint64_t      before;
	size_t        n = 0, i;
	int           ok = allowed(c->need, r->name);

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	argv[n++] = "--json";
	for (i = 0; c->args[i] != NULL; i++)
		argv[n++] = expand(c->args[i], w);
	argv[n] = NULL;

	before = ops_journal_seq(d);
	h_proc_spawn_as(&p, argv, r->uid, r->uid);
	h_proc_wait(&p, H_DEADLINE_MS);
	if (ok && p.status != 0) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_fail("%s as %s (uid %u): exit %d, but the role table "
		       "allows it",
		    c->name, r->name, (unsigned)r->uid, p.status);
	}
	if (!ok) {
		json_t *j;

		if (p.status != 1) {
			print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
			h_fail("%s as %s: exit %d, expected 1 (refused)",
			    c->name, r->name, p.status);
		}
		j = h_json(&p);
		if (strcmp(h_json_str(j, "error.code"), "permission_denied") !=
		    0)
			h_fail("%s as %s: refused with %s, expected "
			       "permission_denied",
			    c->name, r->name, h_json_str(j, "error.code"));
	}
	h_proc_free(&p);
	check_journal(d, before, !ok, c->mutates, c->name, r, c->name, c->field,
	    c->field != NULL ? expand(c->word, w) : NULL);
}

/*
 * A batch from the role, over a raw connection: company add of X (for
 * workflow and up), contract open of CB (controller and up). Each op is
 * checked like a request of its own: answered or refused with
 * permission_denied, and every refused op journaled once.
 */
static void
run_batch(const struct h_daemon *d, const struct role *r)
{
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__BatchRequest b = BUDGET__BATCH_REQUEST__INIT;
	Budget__Request  op[2] = {BUDGET__REQUEST__INIT, BUDGET__REQUEST__INIT};
	Budget__Request *ops[2] = {&op[0], &op[1]};
	Budget__ContractOpen co = BUDGET__CONTRACT_OPEN__INIT;
	struct fx_req        add;
	Budget__Response    *a;
	static const char   *names[2] = {"company_add", "contract_open"};
	enum need            needs[2] = {NEED_DOSSIER, NEED_CONTROL};
	char     rid[FX_ID_SZ], rid0[FX_ID_SZ], rid1[FX_ID_SZ], cb[FX_ID_SZ];
	uint64_t before = ops_journal_seq(d), after;
	json_t  *entries, *e;
	size_t   i, refused = 0, k = 0;
	int      fd;

	snprintf(rid, sizeof(rid), "batch-%s", r->tag);
	snprintf(rid0, sizeof(rid0), "batch-%s-0", r->tag);
	snprintf(rid1, sizeof(rid1), "batch-%s-1", r->tag);
	snprintf(cb, sizeof(cb), "CB-%s", r->tag);
	fx_company_req(&add, rid0, r->serial + CO_X);
	op[0] = add.req;
	op[0].version = 0; /* an op's version may be 0 */
	co.id = cb;
	co.provider = H_STR("P");
	co.framework = H_STR("FW2");
	co.budget_cents = 100000;
	op[1].version = BUDGET_PROTOCOL_VERSION;
	op[1].request_id = rid1;
	op[1].command_case = BUDGET__REQUEST__COMMAND_CONTRACT_OPEN;
	op[1].contract_open = &co;
	b.n_ops = 2;
	b.ops = ops;
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = rid;
	req.command_case = BUDGET__REQUEST__COMMAND_BATCH;
	req.batch = &b;

	if ((fd = h_connect_as_try(d->sock, r->uid, r->uid)) == -1)
		h_fail(
		    "connect as uid %u: %s", (unsigned)r->uid, strerror(errno));
	h_send_request(fd, &req);
	a = h_recv(fd, H_DEADLINE_MS);
	close(fd);
	if (a->error != NULL)
		h_fail("batch as %s: the whole batch was refused: %s", r->name,
		    a->error->code);
	if (a->batch == NULL || a->batch->n_results != 2)
		h_fail("batch as %s: not a batch result of two", r->name);
	for (i = 0; i < 2; i++) {
		const Budget__Response *res = a->batch->results[i];

		if (allowed(needs[i], r->name)) {
			if (res->error != NULL)
				h_fail("batch as %s: op %s refused: %s: %s",
				    r->name, names[i], res->error->code,
				    res->error->message);
		} else {
			if (res->error == NULL ||
			    strcmp(res->error->code, "permission_denied") != 0)
				h_fail("batch as %s: op %s got %s, expected "
				       "permission_denied",
				    r->name, names[i],
				    res->error != NULL ? res->error->code
						       : "a result");
			refused++;
		}
	}
	budget__response__free_unpacked(a, NULL);

	after = ops_journal_seq(d);
	entries = ops_journal(d, before + 1);
	assert_int_equal(json_array_size(entries), after - before);
	json_array_foreach(entries, i, e) {
		assert_int_equal(ops_entry_int(e, "uid"), (int64_t)r->uid);
		assert_string_equal(ops_entry_str(e, "role"), r->name);
		if (strcmp(ops_entry_str(e, "kind"), "refused") != 0)
			continue;
		assert_string_equal(
		    ops_entry_str(e, "error"), "permission_denied");
		/* The refused ops in order, each under its own id. */
		while (k < 2 && allowed(needs[k], r->name))
			k++;
		assert_true(k < 2);
		assert_string_equal(ops_entry_str(e, "command"), names[k]);
		assert_string_equal(
		    ops_entry_str(e, "request_id"), k == 0 ? rid0 : rid1);
		/* With what was asked, as if it had come alone. */
		if (k == 0)
			assert_string_equal(
			    ops_entry_str(e, "company"), add.company);
		else
			assert_string_equal(ops_entry_str(e, "contract"), cb);
		k++;
		refused--;
	}
	assert_int_equal(refused, 0);
	json_decref(entries);
}

/*
 * The matrix: every command and a batch, as every role and an unmapped
 * uid. Then budgetctl export (as root) holds one permission_denied
 * refusal per refused mutation, each by its uid.
 */
static void
test_role_matrix(void **state)
{
	struct h_daemon *d;
	struct words     w;
	struct h_proc    p;
	json_t          *j;
	size_t           ri, ci, expect[NROLES], got[NROLES];
	char            *line, *save = NULL;

	need_root();
	*state = d = roles_up(ROLES_CONFIG);
	roles_ledger(d);
	for (ri = 0; ri < NROLES; ri++) {
		words_for(d, &roles[ri], &w);
		expect[ri] = got[ri] = 0;
		for (ci = 0; ci < NCOMMANDS; ci++) {
			run_command(d, &roles[ri], &commands[ci], &w);
			if (!allowed(commands[ci].need, roles[ri].name))
				expect[ri]++;
		}
		run_batch(d, &roles[ri]);
		expect[ri] += !allowed(NEED_DOSSIER, roles[ri].name) +
		    !allowed(NEED_CONTROL, roles[ri].name);
		print_message("%-10s uid %u: %zu refusals journaled\n",
		    roles[ri].name, (unsigned)roles[ri].uid, expect[ri]);
	}

	/* What an auditor's export shows, counted per uid. */
	h_ctl(&p, d, "export", NULL);
	h_proc_expect(&p, 0);
	for (line = strtok_r(p.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, 0, NULL);
		assert_non_null(j);
		if (strcmp(ops_entry_str(j, "kind"), "refused") == 0) {
			assert_string_equal(
			    ops_entry_str(j, "error"), "permission_denied");
			for (ri = 0; ri < NROLES; ri++) {
				if (ops_entry_int(j, "uid") ==
				    (int64_t)roles[ri].uid)
					got[ri]++;
			}
		}
		json_decref(j);
	}
	h_proc_free(&p);
	for (ri = 0; ri < NROLES; ri++)
		assert_int_equal(got[ri], expect[ri]);
	fx_verify_ok(d);
}

/* status --json as uid:gid through setpriv: the role, or "refused". */
static void
setpriv_role(const struct h_daemon *d, const char *reuid, const char *regid,
    const char *groups, char *out, size_t size)
{
	const char   *argv[16];
	struct h_proc p;
	size_t        n = 0;

	argv[n++] = SETPRIV;
	argv[n++] = reuid;
	argv[n++] = regid;
	argv[n++] = groups;
	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	argv[n++] = "--json";
	argv[n++] = "status";
	argv[n] = NULL;
	h_run(&p, argv);
	if (p.status == 0)
		snprintf(out, size, "%s", h_json_str(h_json(&p), "role"));
	else if (p.status == 1 &&
	    strcmp(h_json_str(h_json(&p), "error.code"), "permission_denied") ==
		0)
		snprintf(out, size, "refused");
	else {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_fail("setpriv %s %s %s budgetctl status: exit %d", reuid,
		    regid, groups, p.status);
	}
	h_proc_free(&p);
}

static void
need_setpriv(void)
{
	need_root();
	if (access(SETPRIV, X_OK) == -1) {
		print_message("skipped: no %s\n", SETPRIV);
		skip();
	}
}

/*
 * @gid: a peer whose primary group is mapped gets the group's role
 * (setpriv --regid); two mapped groups, the stronger. Supplementary
 * groups count as the user database has them (config.c: SO_PEERCRED
 * carries only the uid and the primary gid): a uid with no database entry
 * whose process merely holds the group (setpriv --groups) has no role.
 */
static void
test_group_roles(void **state)
{
	struct h_daemon *d;
	char             role[32];

	need_setpriv();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n"
			      "[roles]\nworkflow = @5002\n"
			      "controller = @5003, 4007\n");
	setpriv_role(d, "--reuid=4006", "--regid=5002", "--clear-groups", role,
	    sizeof(role));
	assert_string_equal(role, "workflow");
	setpriv_role(d, "--reuid=4006", "--regid=5003", "--clear-groups", role,
	    sizeof(role));
	assert_string_equal(role, "controller");
	/* By uid (controller) and by group (workflow): the stronger. */
	setpriv_role(d, "--reuid=4007", "--regid=5002", "--clear-groups", role,
	    sizeof(role));
	assert_string_equal(role, "controller");
	setpriv_role(d, "--reuid=4006", "--regid=4006", "--clear-groups", role,
	    sizeof(role));
	assert_string_equal(role, "refused");
	setpriv_role(d, "--reuid=4006", "--regid=4006", "--groups=5002,5003",
	    role, sizeof(role));
	assert_string_equal(role, "refused");

	/* The group's role is the role: workflow may not open a contract. */
	{
		struct h_proc p;

		h_ctl_as(&p, d, 4006, 5002, "--json", "contract", "open", "G1",
		    "--provider", "P", "--framework", "FW2", "--budget", "10",
		    NULL);
		expect_denied(&p);
		h_ctl_as(&p, d, 4006, 5003, "--json", "contract", "open", "G1",
		    "--provider", "P", "--framework", "FW2", "--budget", "10",
		    NULL);
		h_proc_expect(&p, 0);
		h_proc_free(&p);
	}
}

/*
 * A supplementary group from the user database: a user listed as a member
 * of a group that is not its primary one gets that group's role, although
 * its process holds no supplementary group. Needs such a user on this
 * system (skips otherwise).
 */
static void
test_group_from_user_database(void **state)
{
	struct h_daemon *d;
	struct group    *gr;
	struct passwd   *pw;
	char             conf[256], role[32], reuid[32], regid[32];
	uid_t            uid = 0;
	gid_t            gid = 0, primary = 0;
	int              found = 0;

	need_setpriv();
	setgrent();
	while (!found && (gr = getgrent()) != NULL) {
		size_t i;

		for (i = 0; gr->gr_mem != NULL && gr->gr_mem[i] != NULL; i++) {
			pw = getpwnam(gr->gr_mem[i]);
			if (pw == NULL || pw->pw_uid == 0 ||
			    pw->pw_gid == gr->gr_gid)
				continue;
			uid = pw->pw_uid;
			primary = pw->pw_gid;
			gid = gr->gr_gid;
			found = 1;
			break;
		}
	}
	endgrent();
	if (!found) {
		print_message("skipped: no user in the group database has a "
			      "supplementary group\n");
		skip();
	}
	snprintf(conf, sizeof(conf),
	    "[budgetd]\nsocket_mode = 0666\n[roles]\nauditor = @%u\n",
	    (unsigned)gid);
	*state = d = roles_up(conf);
	snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)uid);
	snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)primary);
	setpriv_role(d, reuid, regid, "--clear-groups", role, sizeof(role));
	print_message("uid %u, primary gid %u, member of gid %u: %s\n",
	    (unsigned)uid, (unsigned)primary, (unsigned)gid, role);
	assert_string_equal(role, "auditor");
}

/*
 * Nothing configured: root is admin, every other uid is refused every
 * command (reads too), and its refused mutations are journaled. budgetd
 * -n says so.
 */
static void
test_default_roles(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	const char      *argv[] = {BUDGETD_PATH, "-n", "-c", NULL, NULL};
	uint64_t         before;
	json_t          *e;

	need_root();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n");
	argv[3] = d->conf;
	h_run(&p, argv);
	h_proc_expect(&p, 0);
	assert_non_null(strstr(p.out,
	    "root and the daemon's own user are "
	    "admin, everyone else is refused"));
	h_proc_free(&p);

	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "admin");
	h_proc_free(&p);

	/* Reads refused are journaled too (SPEC §6): who tried to look. */
	before = ops_journal_seq(d);
	h_ctl_as(&p, d, 4001, 4001, "--json", "status", NULL);
	expect_denied(&p);
	h_ctl_as(&p, d, H_NOBODY_UID, H_NOBODY_GID, "--json", "contract",
	    "show", "X", NULL);
	expect_denied(&p);
	assert_int_equal(ops_journal_seq(d), before + 2);
	e = ops_journal(d, before + 1);
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 0), "command"), "status");
	assert_int_equal(ops_entry_int(json_array_get(e, 0), "uid"), 4001);
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 1), "command"), "contract_show");
	assert_int_equal(
	    ops_entry_int(json_array_get(e, 1), "uid"), H_NOBODY_UID);
	json_decref(e);

	h_ctl_as(&p, d, 4001, 4001, "--json", "--request-id", "dflt-1",
	    "contract", "open", "X", "--provider", "P", "--framework", "FW2",
	    "--budget", "10", NULL);
	expect_denied(&p);
	assert_int_equal(ops_journal_seq(d), before + 3);
	e = ops_journal(d, before + 3);
	assert_int_equal(json_array_size(e), 1);
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 0), "kind"), "refused");
	assert_int_equal(ops_entry_int(json_array_get(e, 0), "uid"), 4001);
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 0), "request_id"), "dflt-1");
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 0), "command"), "contract_open");
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 0), "role"), "none");
	json_decref(e);

	/* A refused role does not claim the id: the retry is refused anew. */
	h_ctl_as(&p, d, 4001, 4001, "--json", "--request-id", "dflt-1",
	    "contract", "open", "X", "--provider", "P", "--framework", "FW2",
	    "--budget", "10", NULL);
	expect_denied(&p);
	assert_int_equal(ops_journal_seq(d), before + 4);
}

/*
 * Root and the daemon's own user are always admin, even when [roles]
 * names them for something weaker.
 */
static void
test_root_and_self_are_admin(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;

	need_root();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n"
			      "[roles]\nauditor = 0, 4010\n");
	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "admin");
	h_proc_free(&p);
	h_ctl(&p, d, "--json", "contract", "open", "R1", "--provider", "P",
	    "--framework", "FW2", "--budget", "10", NULL);
	h_proc_expect(&p, 0);
	h_proc_free(&p);
	/* 4010 is not this daemon's user: the auditor it is named. */
	h_ctl_as(&p, d, 4010, 4010, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "auditor");
	h_proc_free(&p);
	assert_int_equal(h_daemon_stop(d), 0);

	/* The same ledger, the daemon now running as 4010. */
	h_daemon_run_as(d, 4010, 4010);
	if (chown(d->datadir, 4010, 4010) == -1 ||
	    chown(d->conf, 4010, 4010) == -1)
		fail_msg("chown: %s", strerror(errno));
	{
		char path[H_PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/data.mdb", d->datadir);
		assert_int_equal(chown(path, 4010, 4010), 0);
		snprintf(path, sizeof(path), "%s/lock.mdb", d->datadir);
		assert_int_equal(chown(path, 4010, 4010), 0);
		snprintf(path, sizeof(path), "%s/budgetd.lock", d->datadir);
		assert_int_equal(chown(path, 4010, 4010), 0);
	}
	h_daemon_start(d);
	h_ctl_as(&p, d, 4010, 4010, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "admin");
	h_proc_free(&p);
	h_ctl_as(&p, d, 4010, 4010, "--json", "contract", "open", "R2",
	    "--provider", "P", "--framework", "FW2", "--budget", "10", NULL);
	h_proc_expect(&p, 0);
	h_proc_free(&p);
	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "admin");
	h_proc_free(&p);
	h_ctl_as(&p, d, 4011, 4011, "--json", "status", NULL);
	h_proc_expect(&p, 1);
	h_proc_free(&p);
}

/*
 * SIGHUP re-reads [roles] for new connections; a connection keeps the
 * role it was accepted with (SO_PEERCRED is fixed then).
 */
static void
test_roles_reload(void **state)
{
	struct h_daemon  *d;
	struct h_proc     p;
	Budget__Response *a;
	int               fd;

	need_root();
	*state = d = roles_up(
	    "[budgetd]\nsocket_mode = 0666\n[roles]\nauditor = 4001\n");
	if ((fd = h_connect_as_try(d->sock, 4001, 4001)) == -1)
		fail_msg("connect as 4001: %s", strerror(errno));
	h_daemon_write_config(
	    d, "[budgetd]\nsocket_mode = 0666\n[roles]\nworkflow = 4001\n");
	h_daemon_signal(d, SIGHUP);
	assert_true(
	    h_daemon_log_wait(d, "configuration reloaded", H_DEADLINE_MS));
	h_ctl_as(&p, d, 4001, 4001, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "workflow");
	h_proc_free(&p);
	h_send_status(fd, "old-conn");
	a = h_recv(fd, H_DEADLINE_MS);
	assert_non_null(a->status);
	assert_string_equal(a->status->role, "auditor");
	budget__response__free_unpacked(a, NULL);
	close(fd);
}

/*
 * A refused command is journaled with what was asked (README, the
 * journal's table), so that the contract's history shows who tried to
 * change it without the right to. (Found by these tests against 0afd358,
 * where a permission_denied entry had no contract; fixed in bfccd7d.)
 */
static void
test_refusal_in_history(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	json_t          *entries, *e;
	size_t           i;
	int              found = 0;

	need_root();
	*state = d = h_daemon_new("[budgetd]\nsocket_mode = 0666\n"
				  "[roles]\nauditor = 4001\n");
	if (chmod(d->dir, 0755) == -1)
		fail_msg("chmod: %s", strerror(errno));
	h_daemon_start(d);
	fx_contract_open(d, "K-PERM", "1000");
	h_ctl_as(&p, d, 4001, 4001, "--json", "--request-id", "perm-1",
	    "contract", "amend", "K-PERM", "--budget", "2000", "--reason", "x",
	    NULL);
	expect_denied(&p);

	/* The refusal is journaled, under the uid... */
	entries = ops_journal(d, 1);
	json_array_foreach(entries, i, e) {
		if (strcmp(ops_entry_str(e, "request_id"), "perm-1") != 0)
			continue;
		found = 1;
		assert_string_equal(ops_entry_str(e, "kind"), "refused");
		assert_int_equal(ops_entry_int(e, "uid"), 4001);
		/* ...with what was asked. */
		assert_string_equal(ops_entry_str(e, "contract"), "K-PERM");
	}
	json_decref(entries);
	assert_true(found);

	/* And the contract's history shows the attempt. */
	e = fx_ctl_json(d, 0, "history", "--contract", "K-PERM", NULL);
	found = 0;
	for (i = 0; i < json_array_size(json_object_get(e, "entries")); i++) {
		json_t *x = json_array_get(json_object_get(e, "entries"), i);

		found |= strcmp(ops_entry_str(x, "request_id"), "perm-1") == 0;
	}
	json_decref(e);
	assert_true(found);
}

/* The controller's next request, ctl-next, sent as uid. */
static void
open_as(struct h_proc *p, const struct h_daemon *d, uid_t uid)
{
	h_ctl_as(p, d, uid, (gid_t)uid, "--json", "--request-id", "ctl-next",
	    "contract", "open", "K-ID", "--provider", "P", "--framework", "FW2",
	    "--budget", "10", NULL);
}

/*
 * A role that may not run a command neither claims its request id nor
 * reads what is stored under it: an auditor (or a uid with no role) that
 * uses the controller's next id first is refused, journaled, and the
 * controller's request with that id is then applied; afterwards the
 * other's same request is refused again, not answered with the
 * controller's stored answer, and a different request under the id is
 * refused for the role, not as request_id_reused. The controller's own
 * retry is replayed. (Found by a SPEC audit: the id was looked up, and
 * the refusal stored, before the role was checked.)
 */
static void
test_refused_role_claims_no_id(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	uint64_t         before;

	need_root();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n"
			      "[roles]\ncontroller = 4030\nauditor = 4031\n");
	before = ops_journal_seq(d);
	open_as(&p, d, 4031);
	expect_denied(&p);
	assert_int_equal(ops_journal_seq(d), before + 1);

	open_as(&p, d, 4030);
	h_proc_expect(&p, 0);
	assert_false(json_is_true(json_object_get(h_json(&p), "replayed")));
	h_proc_free(&p);
	assert_int_equal(ops_journal_seq(d), before + 2);

	/* Neither the auditor nor a uid with no role gets its answer. */
	open_as(&p, d, 4031);
	expect_denied(&p);
	open_as(&p, d, 4032);
	expect_denied(&p);
	h_ctl_as(&p, d, 4031, 4031, "--json", "--request-id", "ctl-next",
	    "contract", "close", "K-ID", NULL);
	expect_denied(&p);
	assert_int_equal(ops_journal_seq(d), before + 5);

	open_as(&p, d, 4030);
	h_proc_expect(&p, 0);
	assert_true(json_is_true(json_object_get(h_json(&p), "replayed")));
	h_proc_free(&p);
	assert_int_equal(ops_journal_seq(d), before + 5);
}

/* A status request with request id id, as uid 4001 (no role): code. */
static void
status_as_nobody(const struct h_daemon *d, const char *id, const char *code)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	Budget__Response     *a;
	int                   fd;

	if ((fd = h_connect_as_try(d->sock, 4001, 4001)) == -1)
		fail_msg("connect as 4001: %s", strerror(errno));
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = H_STR(id);
	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	h_send_request(fd, &req);
	a = h_recv(fd, H_DEADLINE_MS);
	assert_non_null(a->error);
	assert_string_equal(a->error->code, code);
	budget__response__free_unpacked(a, NULL);
	close(fd);
}

/*
 * Since c56df8b a refused read is journaled, with the request id the
 * client sent; but a read's request id is never checked (only a
 * mutation's is, against SPEC §5's 1-64 bytes of [A-Za-z0-9._:-]). So a
 * uid with no role writes what it likes into the hash-chained journal,
 * for ever: 200 KB a request here (a frame's worth in general), or bytes
 * that are not UTF-8, which budgetctl export cannot render, so that the
 * exported journal no longer re-hashes. Each journaled id must be one a
 * mutation could carry (or none), and export must not complain. Now an
 * id that is not one is refused first, as a mutation's is, with
 * invalid_argument and no entry; a good one is journaled with the
 * refusal.
 */
static void
test_refused_read_id_is_checked(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	json_t          *e;
	char            *id;
	const char      *got;
	size_t           n = 200000;
	uint64_t         before;

	need_root();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n");
	before = ops_journal_seq(d);
	id = malloc(n + 1);
	assert_non_null(id);
	memset(id, 'x', n);
	id[n] = '\0';
	status_as_nobody(d, id, "invalid_argument");
	free(id);
	status_as_nobody(d, "not-utf8-\xff\xfe", "invalid_argument");
	assert_int_equal(ops_journal_seq(d), before);
	status_as_nobody(d, "look-1", "permission_denied");
	status_as_nobody(d, "", "permission_denied");
	assert_int_equal(ops_journal_seq(d), before + 2);

	e = ops_journal(d, before + 1);
	assert_int_equal(json_array_size(e), 2);
	got = ops_entry_str(json_array_get(e, 0), "request_id");
	assert_string_equal(got, "look-1");
	assert_string_equal(
	    ops_entry_str(json_array_get(e, 1), "request_id"), "");
	json_decref(e);

	h_ctl(&p, d, "--json", "export", NULL);
	print_message("budgetctl export: %.300s\n", p.err != NULL ? p.err : "");
	assert_true(p.err == NULL || strstr(p.err, "not UTF-8") == NULL);
	h_proc_free(&p);
}

/*
 * A refused approve or amend is journaled with the dossier it named, so
 * that the dossier's history shows who tried (test_refusal_in_history's
 * rule). Since acba4f1 the arguments are checked before the dossier is
 * looked up, and the refused role runs the command only to fill in what
 * it names: an auditor's approve with a future decision date, or an
 * amend naming nothing to change, now leaves a refusal that names no
 * dossier, and the dossier's history does not show it.
 */
static void
test_refused_approve_names_dossier(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	json_t          *e;
	char             co[FX_RID_SZ];
	size_t           i;
	int              found = 0;

	need_root();
	*state = d = roles_up("[budgetd]\nsocket_mode = 0666\n"
			      "[roles]\nauditor = 4001\n");
	fx_rules_load(d);
	fx_contract_open(d, "K-H", "100000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, co);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "D-H", "--company",
	    co, "--contract", "K-H", "--package", "START", "--cost", "10000",
	    NULL));
	h_ctl_as(&p, d, 4001, 4001, "--json", "--request-id", "hist-1",
	    "dossier", "approve", "D-H", "--decision-date", "2099-01-01", NULL);
	expect_denied(&p);
	h_ctl_as(&p, d, 4001, 4001, "--json", "--request-id", "hist-2",
	    "dossier", "amend", "D-H", "--package", "no such!", NULL);
	expect_denied(&p);

	e = fx_ctl_json(d, 0, "history", "--dossier", "D-H", NULL);
	for (i = 0; i < json_array_size(json_object_get(e, "entries")); i++) {
		json_t *x = json_array_get(json_object_get(e, "entries"), i);

		found += strcmp(ops_entry_str(x, "request_id"), "hist-1") == 0;
		found += strcmp(ops_entry_str(x, "request_id"), "hist-2") == 0;
	}
	json_decref(e);
	print_message("refusals in D-H's history: %d of 2\n", found);
	assert_int_equal(found, 2);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, ops_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_role_matrix),
	    T(test_group_roles),
	    T(test_group_from_user_database),
	    T(test_default_roles),
	    T(test_root_and_self_are_admin),
	    T(test_roles_reload),
	    T(test_refusal_in_history),
	    T(test_refused_role_claims_no_id),
	    T(test_refused_read_id_is_checked),
	    T(test_refused_approve_names_dossier),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
