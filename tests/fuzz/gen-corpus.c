/*
 * gen-corpus.c: writes the seed corpora of the fuzz targets, so that they
 * are reviewable and regenerated rather than hand-edited:
 *
 *     gen-corpus RULES-FILE OUTDIR     (OUTDIR/wire, OUTDIR/request)
 *
 * (the build's fuzz-corpus target runs it on tests/fuzz/corpus). Owns the
 * seeds: a frame of every command with realistic values, Responses of each
 * kind budgetctl reads, the length edge cases (0, the limits and one past
 * them, 0xFFFFFFFF, half a header, half a payload) and, for fuzz_request,
 * sequences, batches and roles over the ledger shape (shape.c). The output
 * depends on nothing but this file and the rules file.
 */
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/protocol.h"
#include "fuzz.h"

#define BIG      SHAPE_CONTRACT_BIG
#define SMALL    SHAPE_CONTRACT_SMALL
#define RESERVED SHAPE_D_RESERVED
#define APPROVED SHAPE_D_APPROVED

/* A growing byte string: one seed file. */
struct gen_buf {
	uint8_t *p;
	size_t   len, cap;
};

/* One Request per command, as a client would send it. */
static const char *const gen_commands[] = {
    "status",
    "rules_load request_id=seed-rules text=@rules "
    "source=vlaio-cybersecurity.rules",
    "rules_show on=2024-05-01",
    "contract_open request_id=seed-open id=VLAIO-CS-2025-C "
    "provider=\"Digital Shield BV\" framework=FW-2024-CS "
    "budget_cents=12500000",
    "contract_amend request_id=seed-amend id=" SMALL
    " budget_cents=3000000 reason=\"budget raised by decision 2024/118\"",
    "contract_close request_id=seed-close id=" SMALL
    " reason=\"framework contract ended\"",
    "contract_show id=" BIG,
    "contract_list",
    "company_add request_id=seed-co number=0403.170.701 name=\"Drukkerij "
    "Van den Broeck NV\" postcode=9300 size=SMALL",
    "company_link request_id=seed-link parent=" SHAPE_CO_MEDIUM
    " child=" SHAPE_CO_MAATWERK " since=2024-01-01 until=2025-12-31",
    "company_merge request_id=seed-merge absorbed=" SHAPE_CO_MICRO
    " into=" SHAPE_CO_MEDIUM " on=2025-06-30",
    "company_show number=BE" SHAPE_CO_MEDIUM " on=2025-01-15",
    "deminimis_declare request_id=seed-dm number=" SHAPE_CO_LARGE
    " amount_cents=1250000 granted=2024-11-04 source=kmo-portefeuille",
    "deminimis_show number=" SHAPE_CO_MICRO " on=2025-06-01",
    "dossier_reserve request_id=seed-reserve id=D-2025-0100 "
    "company=" SHAPE_CO_FREE " contract=" BIG
    " package=MEDIUM cost_cents=1950000 "
    "extension_cost_cents=400000 ttl_seconds=2592000",
    "dossier_approve request_id=seed-approve id=" RESERVED,
    "dossier_amend request_id=seed-amend-d id=" APPROVED
    " package=PLUS cost.cents=3200000 extension_cost.cents=600000",
    "dossier_cancel request_id=seed-cancel id=" RESERVED
    " reason=\"company withdrew its application\"",
    "dossier_withdraw request_id=seed-withdraw id=" APPROVED
    " reason=\"trajectory stopped by the provider\"",
    "dossier_pay request_id=seed-pay id=" APPROVED " amount_cents=875000",
    "dossier_complete request_id=seed-complete id=" APPROVED,
    "dossier_close request_id=seed-dclose id=" SHAPE_D_COMPLETED,
    "dossier_show id=" SHAPE_D_NIS2,
    "verify",
    "history company=" SHAPE_CO_MICRO " since=2024-01-01 limit=50",
    "balance contract=" BIG " seq=12",
    "export since=1 limit=100",
    "report by=year by=province by=package from=2024-01-01 to=2026-12-31",
    "drawdown contract=" BIG,
    "backup path=/var/backups/budgetd/2025-01-01",
};
#define GEN_NCOMMANDS (sizeof(gen_commands) / sizeof(gen_commands[0]))

/* The same commands with the arguments they must refuse. */
static const char *const gen_refused[] = {
    "contract_open request_id=bad-open id=\"has space\" provider=X "
    "framework=F budget_cents=-5",
    "company_add request_id=bad-co number=0403.170.702 name=Checksum "
    "postcode=0999 size=SIZE_UNSPECIFIED",
    "company_add request_id=bad-co2 number=2123456789 name=Unit "
    "postcode=4000 size=LARGE",
    "dossier_reserve request_id=bad-reserve id=D-X company=" SHAPE_CO_UNKNOWN
    " contract=NOPE package=GOLD cost_cents=9223372036854775807 "
    "date=2099-02-30 ttl_seconds=-1",
    "dossier_reserve request_id=bad-reserve2 id=D-2025-0200 "
    "company=" SHAPE_CO_MICRO " contract=" SMALL
    " package=START cost_cents=900000 date=2020-02-29",
    "dossier_pay request_id=bad-pay id=" APPROVED
    " amount_cents=9223372036854775807",
    "dossier_amend request_id=bad-amend id=" RESERVED
    " cost.cents=-1 ttl_seconds=99999999999",
    "history limit=1000000 after=18446744073709551615",
    "balance company=" SHAPE_CO_MEDIUM " at=2024-13-01T25:00:00Z",
    "report by=year by=year by=nonsense",
    "backup path=relative/path",
    "rules_load request_id=bad-rules text=\"[ruleset X]\\nfrom = "
    "2030-01-01\\nrate_sme = 150%\\n\" source=bad.rules",
};
#define GEN_NREFUSED (sizeof(gen_refused) / sizeof(gen_refused[0]))

/* Responses as budgetd sends them, for the decoder budgetctl uses. */
static const char *const gen_responses[] = {
    "error request_id=seed-reserve code=contract_budget_exceeded "
    "message=\"contract VLAIO-CS-2024-B has EUR 1,000.00 available\"",
    "contract request_id=x id=" BIG " provider=\"Cyber Partners NV\" "
    "budget_cents=50000000 reserved_cents=1000000 committed_cents=2400000 "
    "paid_cents=250000 available_cents=46350000 dossiers=6",
    "dossier id=" APPROVED " company=" SHAPE_CO_MAATWERK " state=approved "
    "package=PLUS cost_cents=3000000 subsidy_cents=1750000 "
    "granted_cents=1750000 rule_set=V2024 rate_bp=5000",
    "verify ok=true entries=25 head_hash=0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0 contracts=3 companies=5 dossiers=6",
    "status version=0.1.0 protocol=1 journal_seq=25 role=admin "
    "datadir=/var/lib/budgetd map_size=67108864 map_used=1048576",
    "report by=year",
};
#define GEN_NRESPONSES (sizeof(gen_responses) / sizeof(gen_responses[0]))

static void gen_put(struct gen_buf *, const void *, size_t);
static void gen_u32(struct gen_buf *, uint32_t);
static void gen_frame(struct gen_buf *, const ProtobufCMessage *);
static void gen_spec(struct gen_buf *, const char *);
static void gen_write(const char *, const char *, struct gen_buf *);
static void gen_name(const char *, char *, size_t);
static void gen_wire(const char *);
static void gen_request(const char *);

static void
gen_put(struct gen_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			perror("gen-corpus");
			exit(1);
		}
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void
gen_u32(struct gen_buf *b, uint32_t v)
{
	uint32_t be = htonl(v);

	gen_put(b, &be, sizeof(be));
}

static void
gen_frame(struct gen_buf *b, const ProtobufCMessage *m)
{
	size_t   len = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(len > 0 ? len : 1);

	if (p == NULL) {
		perror("gen-corpus");
		exit(1);
	}
	protobuf_c_message_pack(m, p);
	gen_u32(b, (uint32_t)len);
	gen_put(b, p, len);
	free(p);
}

/* Append the Request of a spec as a frame. */
static void
gen_spec(struct gen_buf *b, const char *spec)
{
	Budget__Request *r = spec_request(spec);

	gen_frame(b, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* Write b to dir/name and empty it. */
static void
gen_write(const char *dir, const char *name, struct gen_buf *b)
{
	char  path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (b->len > 0 && fwrite(b->p, 1, b->len, f) != b->len) ||
	    fclose(f) != 0) {
		fprintf(stderr, "gen-corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	b->len = 0;
}

/* A file name from a spec: its first word, the command. */
static void
gen_name(const char *spec, char *out, size_t size)
{
	size_t n = strcspn(spec, " ");

	snprintf(out, size, "%.*s", (int)n, spec);
}

static void
gen_wire(const char *dir)
{
	struct gen_buf    b = {NULL, 0, 0};
	Budget__Response *resp;
	Budget__Request  *r;
	char              name[128];
	const char       *ops[3];
	size_t            i;

	for (i = 0; i < GEN_NCOMMANDS; i++) {
		gen_name(gen_commands[i], name + 4, sizeof(name) - 4);
		memcpy(name, "req-", 4);
		gen_spec(&b, gen_commands[i]);
		gen_write(dir, name, &b);
	}
	for (i = 0; i < GEN_NRESPONSES; i++) {
		gen_name(gen_responses[i], name + 5, sizeof(name) - 5);
		memcpy(name, "resp-", 5);
		resp = spec_response(gen_responses[i]);
		gen_frame(&b, &resp->base);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		gen_write(dir, name, &b);
	}

	/* Several frames in one read, then what may follow them. */
	gen_spec(&b, gen_commands[0]);
	gen_spec(&b, "contract_show id=" BIG);
	gen_spec(&b, "dossier_show id=" RESERVED);
	gen_write(dir, "three-frames", &b);
	gen_spec(&b, "contract_show id=" BIG);
	gen_u32(&b, 200);
	gen_put(&b, "\x0a\x05", 2);
	gen_write(dir, "frame-then-half-frame", &b);
	gen_spec(&b, "contract_list");
	gen_put(&b, "\x00\x00", 2);
	gen_write(dir, "frame-then-half-header", &b);
	ops[0] = "dossier_approve request_id=b-1 id=" RESERVED;
	ops[1] = "dossier_pay request_id=b-2 id=" APPROVED " amount_cents=1000";
	ops[2] = "contract_show id=" BIG;
	r = spec_batch("seed-batch", ops, 3);
	gen_frame(&b, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	gen_write(dir, "batch", &b);

	/* Lengths: 0, the limits, one past them, the largest. */
	gen_u32(&b, 0);
	gen_write(dir, "len-0", &b);
	gen_u32(&b, 0);
	gen_spec(&b, gen_commands[0]);
	gen_write(dir, "len-0-then-frame", &b);
	gen_u32(&b, BUDGET_FRAME_MAX);
	gen_put(&b, "\x08\x01", 2);
	gen_write(dir, "len-max-partial", &b);
	gen_u32(&b, BUDGET_FRAME_MAX + 1);
	gen_write(dir, "len-max-plus-1", &b);
	gen_u32(&b, 0xffffffffu);
	gen_put(&b, "\x08\x01", 2);
	gen_write(dir, "len-ffffffff", &b);
	gen_put(&b, "\x00\x00\x01", 3);
	gen_write(dir, "half-header", &b);
	/* 64 bytes: the small limit exactly, then one past it. */
	gen_u32(&b, 64);
	gen_put(&b, "\x08\x01\x12\x3c", 4);
	for (i = 0; i < 60; i++)
		gen_put(&b, "a", 1);
	gen_write(dir, "len-small-max", &b);
	gen_u32(&b, 65);
	gen_put(&b, "\x08\x01\x12\x3d", 4);
	for (i = 0; i < 61; i++)
		gen_put(&b, "a", 1);
	gen_write(dir, "len-small-max-plus-1", &b);

	/* Payloads that are not (quite) Requests. */
	gen_u32(&b, 3);
	gen_put(&b, "\x0f\xff\xff", 3); /* wire type 7 */
	gen_write(dir, "bad-wire-type", &b);
	gen_u32(&b, 4);
	gen_put(&b, "\x12\x7f\x61\x62", 4); /* string longer than the frame */
	gen_write(dir, "bad-string-length", &b);
	/* The largest field number, then an empty unknown message. */
	gen_u32(&b, 11);
	gen_put(&b, "\x08\x01\xf8\xff\xff\xff\x0f\x01\x9a\x05\x00", 11);
	gen_write(dir, "unknown-fields", &b);
	gen_u32(&b, 12);
	gen_put(&b, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00", 12);
	gen_write(dir, "overlong-varint", &b);
	free(b.p);
}

static void
gen_request(const char *dir)
{
	static const uint8_t roles[] = {0, 1, 2, 3, 4};
	static const char   *names[] = {
	      "admin", "controller", "workflow", "auditor", "none"};
	struct gen_buf   b = {NULL, 0, 0};
	Budget__Request *r;
	char             name[160];
	const char      *ops[6];
	uint8_t          ctl;
	size_t           i;

	for (i = 0; i < GEN_NCOMMANDS; i++) {
		gen_name(gen_commands[i], name, sizeof(name));
		ctl = 0;
		gen_put(&b, &ctl, 1);
		gen_spec(&b, gen_commands[i]);
		gen_write(dir, name, &b);
	}
	for (i = 0; i < GEN_NREFUSED; i++) {
		snprintf(name, sizeof(name), "refused-%02zu-", i + 1);
		gen_name(gen_refused[i], name + strlen(name),
		    sizeof(name) - strlen(name));
		ctl = 0;
		gen_put(&b, &ctl, 1);
		gen_spec(&b, gen_refused[i]);
		gen_write(dir, name, &b);
	}

	/* A dossier's whole life, one turn (one commit) and one per step. */
	for (i = 0; i < 2; i++) {
		ctl = i == 0 ? 0 : FUZZ_REQ_TURNS;
		gen_put(&b, &ctl, 1);
		gen_spec(&b,
		    "dossier_reserve request_id=life-1 id=D-2025-0300 "
		    "company=" SHAPE_CO_FREE " contract=" BIG
		    " package=START cost_cents=1000000");
		gen_spec(
		    &b, "dossier_approve request_id=life-2 id=D-2025-0300");
		gen_spec(&b,
		    "dossier_amend request_id=life-3 id=D-2025-0300 "
		    "package=MEDIUM cost.cents=1800000");
		gen_spec(
		    &b, "dossier_approve request_id=life-4 id=D-2025-0300");
		gen_spec(&b,
		    "dossier_pay request_id=life-5 id=D-2025-0300 "
		    "amount_cents=450000");
		gen_spec(
		    &b, "dossier_complete request_id=life-6 id=D-2025-0300");
		gen_spec(&b,
		    "dossier_pay request_id=life-7 id=D-2025-0300 "
		    "amount_cents=450000");
		gen_spec(&b, "dossier_close request_id=life-8 id=D-2025-0300");
		gen_spec(&b, "history dossier=D-2025-0300");
		gen_spec(&b, "verify");
		gen_write(dir, i == 0 ? "life-one-turn" : "life-turn-each", &b);
	}
	/* The small contract filled, then overspent. */
	ctl = 0;
	gen_put(&b, &ctl, 1);
	gen_spec(&b,
	    "dossier_reserve request_id=fill-1 id=D-2025-0400 "
	    "company=" SHAPE_CO_FREE " contract=" SMALL
	    " package=MEDIUM cost_cents=2200000");
	gen_spec(&b,
	    "dossier_reserve request_id=fill-2 id=D-2025-0401 "
	    "company=" SHAPE_CO_FREE2 " contract=" SMALL
	    " package=START cost_cents=1080000");
	gen_spec(&b,
	    "contract_amend request_id=fill-3 id=" SMALL
	    " budget_cents=100 reason=\"below what is used\"");
	gen_spec(&b, "contract_show id=" SMALL);
	gen_write(dir, "overspend-small-contract", &b);
	/* The undertaking's de-minimis ceiling. */
	gen_put(&b, &ctl, 1);
	gen_spec(&b,
	    "deminimis_declare request_id=dm-1 number=" SHAPE_CO_MICRO
	    " amount_cents=4900000 granted=2025-09-01 source=ecowal");
	gen_spec(&b, "dossier_approve request_id=dm-2 id=" RESERVED);
	gen_spec(&b,
	    "company_merge request_id=dm-3 absorbed=" SHAPE_CO_LARGE
	    " into=" SHAPE_CO_MEDIUM " on=2025-10-01");
	gen_spec(&b, "deminimis_show number=" SHAPE_CO_MEDIUM);
	gen_write(dir, "deminimis-ceiling", &b);
	/* The same request id twice, once for a different request. */
	gen_put(&b, &ctl, 1);
	gen_spec(&b,
	    "dossier_pay request_id=same id=" APPROVED " amount_cents=1000");
	gen_spec(&b,
	    "dossier_pay request_id=same id=" APPROVED " amount_cents=1000");
	gen_spec(&b,
	    "dossier_pay request_id=same id=" APPROVED " amount_cents=2000");
	gen_write(dir, "request-id-reused", &b);
	/* The same, with ids as sent: they stay taken in later inputs. */
	ctl = FUZZ_REQ_SAME_IDS;
	gen_put(&b, &ctl, 1);
	gen_spec(&b,
	    "dossier_pay request_id=same-ever id=" APPROVED
	    " amount_cents=1000");
	gen_spec(&b, "dossier_show id=" APPROVED);
	gen_write(dir, "request-id-as-sent", &b);
	/* A reservation of one second, released by the daemon's expiry. */
	ctl = FUZZ_REQ_EXPIRE | FUZZ_REQ_TURNS;
	gen_put(&b, &ctl, 1);
	gen_spec(&b,
	    "dossier_reserve request_id=exp-1 id=D-2025-0500 "
	    "company=" SHAPE_CO_FREE2 " contract=" BIG
	    " package=MEDIUM cost_cents=2000000 ttl_seconds=1");
	gen_spec(&b, "dossier_show id=D-2025-0500");
	gen_write(dir, "expire-one-second", &b);

	/* Batches: ops in order, a refused op alone, ops that are not. */
	ctl = 0;
	gen_put(&b, &ctl, 1);
	ops[0] = "dossier_reserve request_id=bt-1 id=D-2025-0600 "
		 "company=" SHAPE_CO_FREE " contract=" BIG
		 " package=START cost_cents=950000";
	ops[1] = "dossier_approve request_id=bt-2 id=D-2025-0600";
	ops[2] = "dossier_pay request_id=bt-3 id=D-2025-0600 "
		 "amount_cents=99999999";
	ops[3] = "contract_show id=" BIG;
	ops[4] = "dossier_pay request_id=bt-5 id=D-2025-0600 amount_cents=1000";
	ops[5] = "status";
	r = spec_batch("seed-batch-1", ops, 6);
	gen_frame(&b, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	gen_spec(&b, "dossier_show id=D-2025-0600");
	gen_write(dir, "batch-mixed", &b);
	gen_put(&b, &ctl, 1);
	ops[0] =
	    "company_add request_id=bt-co number=0202.239.951 "
	    "name=\"Proximus-achtig NV\" postcode=1030 size=LARGE nis2=true "
	    "flemish_establishment=true";
	ops[1] = "contract_open request_id=bt-k id=BT-K provider=P "
		 "framework=F budget_cents=100000000";
	ops[2] = "status version=7";
	r = spec_batch("seed-batch-2", ops, 3);
	gen_frame(&b, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	gen_write(dir, "batch-setup", &b);

	/* Who may do what. */
	for (i = 0; i < sizeof(roles); i++) {
		snprintf(name, sizeof(name), "role-%s", names[i]);
		gen_put(&b, &roles[i], 1);
		gen_spec(&b,
		    "dossier_reserve request_id=role-1 id=D-2025-0700 "
		    "company=" SHAPE_CO_FREE " contract=" BIG
		    " package=PLUS cost_cents=3000000");
		gen_spec(&b,
		    "contract_amend request_id=role-2 id=" BIG
		    " budget_cents=60000000 reason=raise");
		gen_spec(&b, "rules_show all=true");
		gen_spec(&b, "backup path=/tmp/somewhere");
		gen_write(dir, name, &b);
	}
	/* What ends a connection: a wrong version, then more. */
	ctl = 0;
	gen_put(&b, &ctl, 1);
	gen_spec(&b, "status version=2");
	gen_spec(&b, "status");
	gen_write(dir, "wrong-version", &b);
	free(b.p);
}

int
main(int argc, char **argv)
{
	char *rules, wire[4096], req[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: gen-corpus RULES-FILE OUTDIR\n");
		return (2);
	}
	rules = spec_read_file(argv[1], NULL);
	spec_set_rules(rules);
	snprintf(wire, sizeof(wire), "%s/wire", argv[2]);
	snprintf(req, sizeof(req), "%s/request", argv[2]);
	if ((mkdir(argv[2], 0755) == -1 && errno != EEXIST) ||
	    (mkdir(wire, 0755) == -1 && errno != EEXIST) ||
	    (mkdir(req, 0755) == -1 && errno != EEXIST)) {
		fprintf(
		    stderr, "gen-corpus: %s: %s\n", argv[2], strerror(errno));
		return (1);
	}
	gen_wire(wire);
	gen_request(req);
	free(rules);
	return (0);
}
