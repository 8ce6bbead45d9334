/*
 * spec.c: Requests from one-line specs (fuzz.h), for the ledger shape of
 * fuzz_request and the seeds of gen-corpus. Owns walking protobuf-c's
 * descriptors to set a field by name, allocating every piece with malloc
 * the way the decoder does, so that protobuf_c_message_free_unpacked
 * frees what it builds.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/protocol.h"
#include "fuzz.h"

static const char *spec_rules_text;

static void spec_die(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void             *spec_alloc(size_t);
static char             *spec_dup(const char *, size_t);
static const char       *spec_token(const char *, char **, char **);
static ProtobufCMessage *spec_new(const ProtobufCMessageDescriptor *);
static void
spec_set(const char *, ProtobufCMessage *, const char *, const char *);
static void spec_scalar(
    const char *, const ProtobufCFieldDescriptor *, void *, const char *);
static size_t            spec_elt_size(ProtobufCType);
static ProtobufCMessage *spec_message(
    const ProtobufCMessageDescriptor *, ProtobufCMessage *, const char *);

static void
spec_die(const char *spec, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "spec \"%s\": ", spec);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
spec_alloc(size_t size)
{
	void *p = calloc(1, size > 0 ? size : 1);

	if (p == NULL) {
		perror("spec");
		exit(2);
	}
	return (p);
}

static char *
spec_dup(const char *s, size_t len)
{
	char *p = spec_alloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

void
spec_set_rules(const char *text)
{
	spec_rules_text = text;
}

char *
spec_read_file(const char *path, size_t *lenp)
{
	FILE  *f;
	char  *buf;
	long   size;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(2);
	}
	buf = spec_alloc((size_t)size + 1);
	n = fread(buf, 1, (size_t)size, f);
	if (n != (size_t)size || ferror(f)) {
		fprintf(stderr, "%s: short read\n", path);
		exit(2);
	}
	fclose(f);
	buf[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return (buf);
}

/*
 * One token of a spec from p: name=value or a bare word. Returns where
 * the next token starts, or NULL at the end of the line. *name and *value
 * are new strings (*value NULL for a bare word).
 */
static const char *
spec_token(const char *p, char **name, char **value)
{
	const char *s;
	char       *v;
	size_t      n = 0;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return (NULL);
	for (s = p; *p != '\0' && *p != '=' && !isspace((unsigned char)*p);)
		p++;
	*name = spec_dup(s, (size_t)(p - s));
	*value = NULL;
	if (*p != '=')
		return (p);
	p++;
	if (*p != '"') {
		for (s = p; *p != '\0' && !isspace((unsigned char)*p);)
			p++;
		*value = spec_dup(s, (size_t)(p - s));
		return (p);
	}
	v = spec_alloc(strlen(p) + 1);
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] == 'n') {
			p++;
			v[n++] = '\n';
			continue;
		}
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		v[n++] = *p;
	}
	if (*p == '"')
		p++;
	v[n] = '\0';
	*value = v;
	return (p);
}

static ProtobufCMessage *
spec_new(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = spec_alloc(d->sizeof_message);

	d->message_init(m);
	return (m);
}

static size_t
spec_elt_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return (4);
	case PROTOBUF_C_TYPE_BOOL:
		return (sizeof(protobuf_c_boolean));
	case PROTOBUF_C_TYPE_BYTES:
		return (sizeof(ProtobufCBinaryData));
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return (sizeof(void *));
	default:
		return (8);
	}
}

/* Parse value into the field's storage at p (one element). */
static void
spec_scalar(const char *spec, const ProtobufCFieldDescriptor *f, void *p,
    const char *value)
{
	const ProtobufCEnumValue *ev;
	char                     *end;
	long long                 sv;
	unsigned long long        uv;

	errno = 0;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (strcmp(value, "@rules") == 0) {
			if (spec_rules_text == NULL)
				spec_die(spec, "@rules: no rules text given");
			value = spec_rules_text;
		}
		*(char **)p = spec_dup(value, strlen(value));
		return;
	case PROTOBUF_C_TYPE_BOOL:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			spec_die(spec, "%s: true or false", f->name);
		*(protobuf_c_boolean *)p = value[0] == 't';
		return;
	case PROTOBUF_C_TYPE_ENUM:
		ev = protobuf_c_enum_descriptor_get_value_by_name(
		    f->descriptor, value);
		if (ev == NULL)
			spec_die(spec, "%s: no value %s", f->name, value);
		*(int *)p = ev->value;
		return;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		sv = strtoll(value, &end, 0);
		if (errno != 0 || *end != '\0' || end == value)
			spec_die(spec, "%s: not a number: %s", f->name, value);
		if (spec_elt_size(f->type) == 4)
			*(int32_t *)p = (int32_t)sv;
		else
			*(int64_t *)p = (int64_t)sv;
		return;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		uv = strtoull(value, &end, 0);
		if (errno != 0 || *end != '\0' || end == value)
			spec_die(spec, "%s: not a number: %s", f->name, value);
		if (spec_elt_size(f->type) == 4)
			*(uint32_t *)p = (uint32_t)uv;
		else
			*(uint64_t *)p = (uint64_t)uv;
		return;
	default:
		spec_die(spec, "%s: a type specs do not know", f->name);
	}
}

/* Set name (a.b.c) in m to value. */
static void
spec_set(
    const char *spec, ProtobufCMessage *m, const char *name, const char *value)
{
	const ProtobufCFieldDescriptor *f;
	const char                     *dot = strchr(name, '.');
	char                           *head;
	uint8_t                        *base = (uint8_t *)m;
	void                          **arr;
	size_t                         *n, sz;

	head =
	    spec_dup(name, dot != NULL ? (size_t)(dot - name) : strlen(name));
	f = protobuf_c_message_descriptor_get_field_by_name(
	    m->descriptor, head);
	if (f == NULL)
		spec_die(spec, "%s has no field %s", m->descriptor->name, head);
	free(head);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)(base + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE &&
	    f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (dot != NULL || f->type == PROTOBUF_C_TYPE_MESSAGE)
			spec_die(spec, "%s: repeated messages are not specs",
			    f->name);
		n = (size_t *)(void *)(base + f->quantifier_offset);
		arr = (void **)(void *)(base + f->offset);
		sz = spec_elt_size(f->type);
		*arr = realloc(*arr, (*n + 1) * sz);
		if (*arr == NULL)
			spec_die(spec, "out of memory");
		spec_scalar(spec, f, (uint8_t *)*arr + *n * sz, value);
		(*n)++;
		return;
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		ProtobufCMessage **sub =
		    (ProtobufCMessage **)(void *)(base + f->offset);

		if (*sub == NULL)
			*sub = spec_new(f->descriptor);
		if (dot != NULL)
			spec_set(spec, *sub, dot + 1, value);
		else if (value != NULL)
			spec_die(spec, "%s is a message", f->name);
		return;
	}
	if (dot != NULL)
		spec_die(spec, "%s is not a message", f->name);
	if (value == NULL)
		spec_die(spec, "%s needs a value", f->name);
	/* A string's default is a shared constant; ours are malloc'd. */
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		char **s = (char **)(void *)(base + f->offset);

		if (*s != NULL && *s != f->default_value)
			free(*s);
	}
	spec_scalar(spec, f, base + f->offset, value);
}

/*
 * The first word names a field of d (a message: the command or result);
 * a FIELD after it is that message's if it has one, else d's own.
 */
static ProtobufCMessage *
spec_message(
    const ProtobufCMessageDescriptor *d, ProtobufCMessage *m, const char *spec)
{
	const ProtobufCFieldDescriptor *top = NULL;
	const char                     *p = spec;
	char                           *name, *value, *path, *dot;

	if (m == NULL)
		m = spec_new(d);
	while ((p = spec_token(p, &name, &value)) != NULL) {
		if (top == NULL) {
			if (value != NULL)
				spec_die(spec, "starts with a field name");
			top = protobuf_c_message_descriptor_get_field_by_name(
			    d, name);
			if (top == NULL || top->type != PROTOBUF_C_TYPE_MESSAGE)
				spec_die(spec, "%s: not a message of %s", name,
				    d->name);
			spec_set(spec, m, name, NULL);
		} else if (value == NULL)
			spec_die(spec, "%s: FIELD=VALUE", name);
		else {
			if ((dot = strchr(name, '.')) != NULL)
				*dot = '\0';
			if (protobuf_c_message_descriptor_get_field_by_name(
				top->descriptor, name) != NULL) {
				if (dot != NULL)
					*dot = '.';
				if (asprintf(&path, "%s.%s", top->name, name) ==
				    -1)
					spec_die(spec, "out of memory");
				spec_set(spec, m, path, value);
				free(path);
			} else {
				if (dot != NULL)
					*dot = '.';
				spec_set(spec, m, name, value);
			}
		}
		free(name);
		free(value);
	}
	if (top == NULL)
		spec_die(spec, "empty");
	return (m);
}

Budget__Request *
spec_request(const char *spec)
{
	Budget__Request *r;

	r = (Budget__Request *)spec_new(&budget__request__descriptor);
	r->version = BUDGET_PROTOCOL_VERSION;
	return ((Budget__Request *)spec_message(
	    &budget__request__descriptor, &r->base, spec));
}

Budget__Response *
spec_response(const char *spec)
{
	return ((Budget__Response *)spec_message(
	    &budget__response__descriptor, NULL, spec));
}

Budget__Request *
spec_batch(const char *request_id, const char *const *ops, size_t n)
{
	Budget__Request *r;
	size_t           i;
	char            *spec;

	if (asprintf(&spec, "batch request_id=%s", request_id) == -1)
		spec_die(request_id, "out of memory");
	r = spec_request(spec);
	free(spec);
	r->batch->ops = spec_alloc(n * sizeof(*r->batch->ops));
	for (i = 0; i < n; i++)
		r->batch->ops[i] = spec_request(ops[i]);
	r->batch->n_ops = n;
	return (r);
}
