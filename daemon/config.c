/*
 * config.c: the configuration file (INI, parsed by inih) and the mapping of
 * peer credentials to roles. Owns the compiled defaults, so that
 * "budgetd -d ./var" works with no file at all, and the strictness: an
 * unknown section or key is an error with its line number, never ignored.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "budget/date.h"
#include "budget/protocol.h"
#include "budgetd.h"

struct config_ctx {
	struct config *conf;
	char          *cause;
};

static int config_handler(void *, const char *, const char *, const char *);
static int config_size(const char *, uint64_t *);
static int config_uint(const char *, unsigned, unsigned, unsigned *);
static int config_seconds(const char *, int64_t *);
static int config_roles(struct config *, enum role, const char *, char **);

static const char *role_names[] = {
    [ROLE_NONE] = "none",
    [ROLE_AUDITOR] = "auditor",
    [ROLE_WORKFLOW] = "workflow",
    [ROLE_CONTROLLER] = "controller",
    [ROLE_ADMIN] = "admin",
};

const char *
role_name(enum role r)
{
	if ((unsigned)r > ROLE_ADMIN)
		fatalx("role_name: unknown role %d", (int)r);
	return (role_names[r]);
}

void
config_defaults(struct config *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->socket_mode = 0660;
	conf->max_conns = 1024;
	conf->max_conns_per_uid = 256;
	conf->idle_timeout = 300;
	conf->write_timeout = 30;
	conf->frame_timeout = 30;
	conf->frame_max = BUDGET_FRAME_MAX;
	conf->map_size = UINT64_C(64) << 20;
	conf->map_max = UINT64_C(64) << 30;
	conf->reservation_ttl = 60 * 86400;
	conf->commit_wait_us = 200;
}

void
config_free(struct config *conf)
{
	free(conf->path);
	free(conf->datadir);
	free(conf->socket);
	free(conf->roles);
	memset(conf, 0, sizeof(*conf));
}

/* "4096", "64KiB", "64MiB", "16GiB" -> bytes. */
static int
config_size(const char *s, uint64_t *out)
{
	char              *end;
	unsigned long long v;
	unsigned           shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *s == '-')
		return (-1);
	if (strcmp(end, "KiB") == 0)
		shift = 10;
	else if (strcmp(end, "MiB") == 0)
		shift = 20;
	else if (strcmp(end, "GiB") == 0)
		shift = 30;
	else if (strcmp(end, "TiB") == 0)
		shift = 40;
	else if (*end != '\0')
		return (-1);
	if (v > (UINT64_MAX >> shift))
		return (-1);
	*out = (uint64_t)v << shift;
	return (0);
}

static int
config_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char         *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max)
		return (-1);
	*out = (unsigned)v;
	return (0);
}

static int
config_seconds(const char *s, int64_t *out)
{
	const char *why;

	return (duration_parse(s, out, &why));
}

/*
 * "root, budgetd, @finance, 1000, @1001": user names or uids, and group
 * names or gids after '@'. Names are resolved now, so that a typo is a
 * startup error rather than a silent refusal later.
 */
static int
config_roles(
    struct config *conf, enum role role, const char *value, char **cause)
{
	char            *copy, *tok, *save = NULL, *end;
	struct passwd   *pw;
	struct group    *gr;
	struct role_rule r;
	unsigned long    id;

	copy = xstrdup(value);
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		memset(&r, 0, sizeof(r));
		r.role = role;
		if (*tok == '@') {
			r.is_group = 1;
			tok++;
		}
		errno = 0;
		id = strtoul(tok, &end, 10);
		if (*tok != '\0' && *end == '\0' && errno == 0 &&
		    id <= UINT32_MAX)
			r.id = (uint32_t)id;
		else if (r.is_group && (gr = getgrnam(tok)) != NULL)
			r.id = gr->gr_gid;
		else if (!r.is_group && (pw = getpwnam(tok)) != NULL)
			r.id = pw->pw_uid;
		else {
			xasprintf(cause, "unknown %s \"%s\" in role %s",
			    r.is_group ? "group" : "user", tok,
			    role_name(role));
			free(copy);
			return (-1);
		}
		conf->roles = xreallocarray(
		    conf->roles, conf->nroles + 1, sizeof(*conf->roles));
		conf->roles[conf->nroles++] = r;
	}
	free(copy);
	return (0);
}

static int
config_handler(
    void *arg, const char *section, const char *key, const char *value)
{
	struct config_ctx *ctx = arg;
	struct config     *conf = ctx->conf;
	uint64_t           size;
	unsigned           u;
	enum role          r;

/* inih reads on after an error but reports the first line: keep the
 * first reason too, so line and reason match. */
#define BAD(...) \
	do { \
		if (ctx->cause == NULL) \
			xasprintf(&ctx->cause, __VA_ARGS__); \
		return (0); \
	} while (0)

	if (key == NULL) /* a section header on its own */
		return (1);
	if (strcmp(section, "budgetd") == 0) {
		if (strcmp(key, "datadir") == 0) {
			free(conf->datadir);
			conf->datadir = xstrdup(value);
		} else if (strcmp(key, "socket") == 0) {
			free(conf->socket);
			conf->socket = xstrdup(value);
		} else if (strcmp(key, "socket_mode") == 0) {
			char         *end;
			unsigned long m = strtoul(value, &end, 8);

			if (*value == '\0' || *end != '\0' || m > 0777)
				BAD("socket_mode must be octal, e.g. 0660");
			conf->socket_mode = (unsigned)m;
		} else if (strcmp(key, "commit_wait_us") == 0) {
			if (config_uint(value, 0, 10000, &conf->commit_wait_us))
				BAD("commit_wait_us must be 0-10000");
		} else if (strcmp(key, "verbose") == 0) {
			if (config_uint(value, 0, 3, &u) == -1)
				BAD("verbose must be 0-3");
			conf->verbose = (int)u;
		} else
			BAD("unknown key \"%s\" in [budgetd]", key);
	} else if (strcmp(section, "limits") == 0) {
		if (strcmp(key, "max_connections") == 0) {
			if (config_uint(value, 1, 1000000, &conf->max_conns))
				BAD("max_connections must be 1-1000000");
		} else if (strcmp(key, "max_connections_per_uid") == 0) {
			if (config_uint(
				value, 1, 1000000, &conf->max_conns_per_uid))
				BAD("max_connections_per_uid must be 1-1000000");
		} else if (strcmp(key, "idle_timeout") == 0 ||
		    strcmp(key, "write_timeout") == 0 ||
		    strcmp(key, "frame_timeout") == 0) {
			int64_t s;

			if (config_seconds(value, &s) == -1 || s > 86400 * 7)
				BAD("%s must be a duration such as 30s, 5m, "
				    "up to 7d",
				    key);
			if (key[0] == 'i')
				conf->idle_timeout = (unsigned)s;
			else if (key[0] == 'w')
				conf->write_timeout = (unsigned)s;
			else
				conf->frame_timeout = (unsigned)s;
		} else if (strcmp(key, "frame_max") == 0) {
			if (config_size(value, &size) == -1 || size < 1024 ||
			    size > BUDGET_FRAME_MAX_LIMIT)
				BAD("frame_max must be 1KiB-64MiB");
			conf->frame_max = (size_t)size;
		} else if (strcmp(key, "map_size") == 0) {
			if (config_size(value, &size) == -1 ||
			    size < (UINT64_C(64) << 10))
				BAD("map_size must be a size of at least 64KiB");
			conf->map_size = size;
		} else if (strcmp(key, "map_max") == 0) {
			if (config_size(value, &size) == -1 ||
			    size < (UINT64_C(64) << 10))
				BAD("map_max must be a size of at least 64KiB");
			conf->map_max = size;
		} else
			BAD("unknown key \"%s\" in [limits]", key);
	} else if (strcmp(section, "ledger") == 0) {
		if (strcmp(key, "reservation_ttl") == 0) {
			/* No longer than a request may ask for (--ttl). */
			if (config_seconds(value, &conf->reservation_ttl) ==
				-1 ||
			    conf->reservation_ttl > DOSSIER_TTL_MAX)
				BAD("reservation_ttl must be a duration such "
				    "as 60d, up to 366d");
		} else
			BAD("unknown key \"%s\" in [ledger]", key);
	} else if (strcmp(section, "roles") == 0) {
		for (r = ROLE_AUDITOR; r <= ROLE_ADMIN; r++) {
			if (strcmp(key, role_name(r)) == 0)
				break;
		}
		if (r > ROLE_ADMIN)
			BAD("unknown role \"%s\" (admin, controller, "
			    "workflow, auditor)",
			    key);
		conf->roles_configured = 1;
		if (config_roles(conf, r, value, &ctx->cause) == -1)
			return (0);
	} else
		BAD("unknown section [%s]", section);
	return (1);
#undef BAD
}

int
config_load(struct config *conf, const char *path, char **cause)
{
	struct config_ctx ctx = {conf, NULL};
	int               line;

	line = ini_parse(path, config_handler, &ctx);
	if (line == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (line != 0) {
		xasprintf(cause, "%s:%d: %s", path, line,
		    ctx.cause != NULL ? ctx.cause : "syntax error");
		free(ctx.cause);
		return (-1);
	}
	if (conf->map_max < conf->map_size) {
		xasprintf(cause, "%s: map_max is below map_size", path);
		return (-1);
	}
	free(conf->path);
	conf->path = xstrdup(path);
	return (0);
}

void
config_print(const struct config *conf, FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "[budgetd]\ndatadir = %s\nsocket = %s\n"
	    "socket_mode = %04o\nverbose = %d\ncommit_wait_us = %u\n\n",
	    conf->datadir, conf->socket, conf->socket_mode, conf->verbose,
	    conf->commit_wait_us);
	fprintf(fp,
	    "[limits]\nmax_connections = %u\n"
	    "max_connections_per_uid = %u\nidle_timeout = %us\n"
	    "write_timeout = %us\nframe_timeout = %us\nframe_max = %zu\n"
	    "map_size = %llu\nmap_max = %llu\n\n",
	    conf->max_conns, conf->max_conns_per_uid, conf->idle_timeout,
	    conf->write_timeout, conf->frame_timeout, conf->frame_max,
	    (unsigned long long)conf->map_size,
	    (unsigned long long)conf->map_max);
	fprintf(fp, "[ledger]\nreservation_ttl = %llds\n\n[roles]\n",
	    (long long)conf->reservation_ttl);
	if (!conf->roles_configured)
		fprintf(fp,
		    "# none: root and the daemon's own user are "
		    "admin, everyone else is refused\n");
	for (i = 0; i < conf->nroles; i++)
		fprintf(fp, "%s = %s%u\n", role_name(conf->roles[i].role),
		    conf->roles[i].is_group ? "@" : "",
		    (unsigned)conf->roles[i].id);
}

/*
 * The most powerful role any rule grants this peer. Root and the daemon's
 * own user are always admin: they can open the data files directly anyway,
 * so refusing them would protect nothing.
 */
enum role
config_role_for(const struct config *conf, uid_t uid, gid_t gid)
{
	struct passwd *pw;
	gid_t          groups[64];
	int            ngroups = 0, i;
	size_t         n;
	enum role      best = ROLE_NONE;

	if (uid == 0 || uid == geteuid())
		return (ROLE_ADMIN);
	/* Supplementary groups come from the user database, not the peer. */
	if ((pw = getpwuid(uid)) != NULL) {
		ngroups = (int)(sizeof(groups) / sizeof(groups[0]));
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) ==
		    -1)
			ngroups = (int)(sizeof(groups) / sizeof(groups[0]));
	}
	for (n = 0; n < conf->nroles; n++) {
		const struct role_rule *r = &conf->roles[n];
		int                     match = 0;

		if (!r->is_group)
			match = r->id == uid;
		else {
			match = r->id == gid;
			for (i = 0; i < ngroups && !match; i++)
				match = r->id == groups[i];
		}
		if (match && r->role > best)
			best = r->role;
	}
	return (best);
}
