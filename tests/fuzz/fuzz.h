/*
 * fuzz.h: what the fuzz targets, their replay driver and the corpus
 * generator share: libFuzzer's entry points, the input format of
 * fuzz_request, the one-line Request specs (spec.c) and the small ledger
 * every fuzz_request run starts from (shape.c).
 */
#ifndef BUDGET_FUZZ_H
#define BUDGET_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "budget.pb-c.h"

/*
 * libFuzzer's entry points. Every target defines both; replay.c calls
 * them the way libFuzzer does, so that a plain build (gcc, no libFuzzer)
 * replays the corpus.
 */
int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * fuzz_request's input: one control byte, then Request frames as on the
 * wire (u32 big-endian length, then that many bytes of protobuf). A length
 * past the end of the input takes what is left, so that a mutation that
 * grows or shrinks the last payload keeps it a frame. A frame that is too
 * large or does not decode, a wrong version or an unknown command ends the
 * input, as the daemon ends the connection.
 *
 * A request id that has been used is answered from the idempotency store
 * ever after, so a mutated request under a seed's id would never reach its
 * command. Unless FUZZ_REQ_SAME_IDS is set, every request id (a batch's
 * ops' too) gets ":N" appended where it fits, N counting the inputs since
 * the ledger was made: ids stay equal within an input, differ across
 * inputs, and come out the same when the inputs are replayed in order.
 */
#define FUZZ_REQ_ROLE_MASK 0x07 /* index into fuzz_req_roles[] */
#define FUZZ_REQ_TURNS     0x08 /* each frame in its own turn (batch) */
#define FUZZ_REQ_EXPIRE    0x10 /* then the daemon's own expiry request */
#define FUZZ_REQ_SAME_IDS  0x20 /* request ids as sent: see below */
#define FUZZ_REQ_FRAMES    64   /* frames per input at most */

/*
 * The role for each value of FUZZ_REQ_ROLE_MASK (shape.c), as enum role
 * (daemon/budgetd.h): 0 is the administrator, so that a zero byte needs
 * no luck, then controller, workflow, auditor, none, and the
 * administrator again.
 */
extern const int fuzz_req_roles[8];

/*
 * One Request from a one-line spec, allocated the way protobuf-c's
 * decoder allocates (free with protobuf_c_message_free_unpacked):
 *
 *     COMMAND [FIELD=VALUE ...]
 *
 * COMMAND is a member of Request's oneof (contract_open); a FIELD is one
 * of that message's fields, a.b for a field of a sub-message (cost.cents),
 * or request_id and version of the Request itself (version defaults to
 * 1). A repeated field is given once per element. VALUE is a word or a
 * "double-quoted string" (\", \\ and \n inside); enums take their names.
 * "@rules" as a VALUE stands for the text given to spec_set_rules().
 * Exits with a message on a spec that does not fit the schema: specs are
 * ours, not input.
 */
Budget__Request *spec_request(const char *);

/*
 * The same for a Response: the first word is a member of its result oneof
 * or "error"; request_id, replayed and error.code are its own fields.
 */
Budget__Response *spec_response(const char *);

/* A batch request holding the ops (specs) in order; takes no ownership. */
Budget__Request *spec_batch(const char *, const char *const *, size_t);

/* The text "@rules" stands for (borrowed; must outlive the specs). */
void spec_set_rules(const char *);

/*
 * Read a whole file into a NUL-terminated buffer (free it); exits with a
 * message when it cannot.
 */
char *spec_read_file(const char *, size_t *);

/*
 * The ledger fuzz_request starts from (shape.c): the shipped rules, three
 * contracts (a big one, a small one, a closed one), companies of each kind
 * the rules tell apart (two of them one undertaking, two free to reserve)
 * and dossiers in every state that needs no waiting. The seeds name these,
 * so that the fuzzer starts next to real state.
 */
#define SHAPE_CONTRACT_BIG    "VLAIO-CS-2024-A"
#define SHAPE_CONTRACT_SMALL  "VLAIO-CS-2024-B"
#define SHAPE_CONTRACT_CLOSED "VLAIO-CS-2023-OLD"
#define SHAPE_CO_MICRO        "1000000120" /* controlled by SHAPE_CO_MEDIUM */
#define SHAPE_CO_MEDIUM       "1000000219" /* declared de-minimis aid */
#define SHAPE_CO_LARGE        "1000000318" /* large, NIS2 */
#define SHAPE_CO_MAATWERK     "1000000417" /* small, maatwerkbedrijf */
#define SHAPE_CO_BRUSSELS     "1000000516" /* Flemish establishment */
#define SHAPE_CO_WAITING      "1000000615" /* reserved on the small one */
#define SHAPE_CO_FREE         "1000000714" /* no dossier: may reserve */
#define SHAPE_CO_FREE2        "1000000813" /* no dossier: may reserve */
#define SHAPE_CO_UNKNOWN      "1000000912" /* valid, never added */
#define SHAPE_D_RESERVED      "D-2024-0001"
#define SHAPE_D_APPROVED      "D-2024-0002"
#define SHAPE_D_COMPLETED     "D-2024-0003"
#define SHAPE_D_SMALL         "D-2024-0004" /* reserved on the small one */
#define SHAPE_D_NIS2          "D-2024-0005" /* approved, part paid */
#define SHAPE_D_CANCELLED     "D-2024-0006"

/* The specs that build the shape, in order; every one must succeed. */
extern const char *const shape_setup[];
extern const size_t      shape_nsetup;

#endif /* BUDGET_FUZZ_H */
