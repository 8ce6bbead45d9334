/*
 * xmalloc.c: allocation that cannot fail. Running out of memory in a ledger
 * daemon is not something to limp through: every length that comes from a
 * peer is capped before it reaches here, so OOM means the host is broken.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "budgetd.h"

void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return (p);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (size == 0 || nmemb == 0)
		fatalx("xcalloc: zero size");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", nmemb, size);
	return (p);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if ((p = reallocarray(ptr, nmemb, size)) == NULL)
		fatal("xreallocarray: allocating %zu * %zu bytes", nmemb, size);
	return (p);
}

char *
xstrdup(const char *str)
{
	char *p;

	if ((p = strdup(str)) == NULL)
		fatal("xstrdup");
	return (p);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int     i;

	va_start(ap, fmt);
	i = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (i < 0 || *ret == NULL)
		fatal("xasprintf");
	return (i);
}

/*
 * Memory for a walk over the whole ledger (verify's replay and maps):
 * zeroed, as mmap's is, and in whole huge pages where the kernel allows.
 * Such a walk touches every page of it once, in no order, and on a
 * virtual machine a page fault costs some 15 microseconds: one per 4 KiB
 * of a 128 MiB map was half a second of verify. Give it back with xunmap,
 * with the same size.
 */
#define XMAP_HUGE ((size_t)2 << 20)

static size_t
xmap_len(size_t size)
{
	size_t page = size >= XMAP_HUGE ? XMAP_HUGE : 4096;

	return ((size + page - 1) & ~(page - 1));
}

void *
xmap(size_t size)
{
	size_t len = xmap_len(size);
	char  *p, *q;

	if (len < XMAP_HUGE) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			fatal("xmap: mapping %zu bytes", size);
		return (p);
	}
	/* A huge page must start on a boundary: map more, trim the ends. */
	p = mmap(NULL, len + XMAP_HUGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("xmap: mapping %zu bytes", size);
	q = (char *)(((uintptr_t)p + XMAP_HUGE - 1) &
	    ~(uintptr_t)(XMAP_HUGE - 1));
	if (q > p)
		munmap(p, (size_t)(q - p));
	munmap(q + len, (size_t)(p + XMAP_HUGE - q));
	(void)madvise(q, len, MADV_HUGEPAGE); /* a hint: 4 KiB pages work */
	return (q);
}

void
xunmap(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, xmap_len(size));
}
