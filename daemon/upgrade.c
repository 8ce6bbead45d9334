/*
 * upgrade.c: converting a ledger written by an older budgetd to the layout
 * of this one (README, "Upgrading"). Runs once at start, before the first
 * client is accepted, in one write transaction: the whole ledger is
 * converted, or none of it is and budgetd stops. Each step knows one
 * schema and makes the next; the journal is never touched, so its hash
 * chain and everything verify checks holds across an upgrade.
 */
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "budgetd.h"

/*
 * How much more time to ask systemd for, each try: a conversion runs
 * before READY=1, and the unit's start timeout (90 s by default) is not
 * made for a ledger of millions of dossiers.
 */
#define UPGRADE_EXTEND_USEC (30ull * 60 * 1000000)

struct upgrade_step {
	uint64_t    from;
	const char *what;
	size_t (*run)(struct store_txn *); /* returns records converted */
};

static const struct upgrade_step upgrade_steps[] = {
    {2, "each dossier's summary in the company index gains what was paid",
	record_rebuild_summaries},
    {3, "each de-minimis regime gains the journal entry that loaded it",
	record_regimes_loaded},
};

static const struct upgrade_step *
upgrade_step_from(uint64_t schema)
{
	size_t i;

	for (i = 0; i < sizeof(upgrade_steps) / sizeof(upgrade_steps[0]); i++)
		if (upgrade_steps[i].from == schema)
			return (&upgrade_steps[i]);
	return (NULL);
}

/* Bring the ledger to STORE_SCHEMA; -1 and *cause when it cannot be. */
int
upgrade_ledger(char **cause)
{
	const struct upgrade_step *step;
	struct store_txn           t;
	uint64_t                   from = store_schema(), s;
	size_t                     n;
	int                        err;

	if (from == STORE_SCHEMA)
		return (0);
	for (;;) {
		sd_notifyf(0,
		    "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=upgrading the ledger from "
		    "schema %llu to %d",
		    UPGRADE_EXTEND_USEC, (unsigned long long)from,
		    STORE_SCHEMA);
		store_begin(&t, 1);
		for (s = from; s < STORE_SCHEMA && t.err == 0; s++) {
			if ((step = upgrade_step_from(s)) == NULL) {
				store_abort(&t);
				xasprintf(cause,
				    "no way to upgrade a ledger from schema "
				    "%llu",
				    (unsigned long long)s);
				return (-1);
			}
			n = step->run(&t);
			log_info("store: schema %llu to %llu: %s (%zu records)",
			    (unsigned long long)s, (unsigned long long)s + 1,
			    step->what, n);
		}
		store_set_schema(&t, STORE_SCHEMA);
		if ((err = store_commit(&t)) == 0)
			break;
		/* The conversion may need more room than the map has. */
		if (err != STORE_FULL || store_grow() == -1) {
			xasprintf(cause,
			    "upgrading the ledger from schema %llu: %s",
			    (unsigned long long)from, store_strerror(err));
			return (-1);
		}
		log_info("store: map grown; upgrading again");
	}
	log_info("store: upgraded from schema %llu to %d",
	    (unsigned long long)from, STORE_SCHEMA);
	return (0);
}
