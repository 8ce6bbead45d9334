/*
 * xmalloc.c: allocation that cannot fail. Running out of memory in a ledger
 * daemon is not something to limp through: every length that comes from a
 * peer is capped before it reaches here, so OOM means the host is broken.
 * Also the big maps a walk over the whole ledger uses, and the spares kept
 * of them for the next walk.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/*
 * Maps of a huge page or more, given back, are kept for a while as
 * spares, for the next walk to take again: verify asks for the same sizes
 * each time the ledger is the same size (a spare no size matches any more
 * waits out its time). Memory the process has not touched lately is slow
 * to touch on a virtual machine, whose host takes back what the guest
 * frees (the balloon's free page reporting): the 450 MiB a verify of a
 * million dossiers uses came at 540 MiB/s when fresh and is zeroed at
 * 30 GiB/s when kept, some 0.8 s of CPU against 15 ms. A spare is
 * MADV_FREE: the kernel may take its pages back whenever it needs them,
 * without swap; xmap_trim returns those not taken again within
 * XMAP_KEEP_SECS. A spare is PROT_NONE until taken: a use after xunmap
 * still faults, as it did when the map went at once, instead of writing
 * into the next walk's.
 */
#define XMAP_SPARES 512

struct xmap_spare {
	void  *p;
	size_t len;
	time_t since; /* CLOCK_MONOTONIC seconds: given back then */
};

static pthread_mutex_t   xmap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct xmap_spare xmap_spare[XMAP_SPARES];
static size_t            xmap_nspare;

static size_t
xmap_len(size_t size)
{
	size_t page = size >= XMAP_HUGE ? XMAP_HUGE : 4096;

	return ((size + page - 1) & ~(page - 1));
}

static time_t
xmap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* A spare of exactly len bytes, taken off the list, or NULL. */
static void *
xmap_take(size_t len)
{
	void  *p = NULL;
	size_t i;

	pthread_mutex_lock(&xmap_mu);
	for (i = 0; i < xmap_nspare; i++) {
		if (xmap_spare[i].len == len) {
			p = xmap_spare[i].p;
			xmap_spare[i] = xmap_spare[--xmap_nspare];
			break;
		}
	}
	pthread_mutex_unlock(&xmap_mu);
	if (p != NULL && mprotect(p, len, PROT_READ | PROT_WRITE) == -1)
		fatal("xmap: mprotect");
	return (p);
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
	if ((q = xmap_take(len)) != NULL) {
		memset(q, 0, len); /* the kernel may or may not have */
		return (q);
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
	size_t len = xmap_len(size);

	if (p == NULL)
		return;
	if (len >= XMAP_HUGE) {
		pthread_mutex_lock(&xmap_mu);
		if (xmap_nspare < XMAP_SPARES &&
		    madvise(p, len, MADV_FREE) == 0 &&
		    mprotect(p, len, PROT_NONE) == 0) {
			xmap_spare[xmap_nspare].p = p;
			xmap_spare[xmap_nspare].len = len;
			xmap_spare[xmap_nspare++].since = xmap_now();
			p = NULL;
		}
		pthread_mutex_unlock(&xmap_mu);
		if (p == NULL)
			return;
	}
	munmap(p, len);
}

/*
 * Unmap the spares given back age seconds ago or more (0: all of them);
 * the bytes unmapped. The unmapping is done outside the lock, so that a
 * walk's xmap does not wait for it.
 */
size_t
xmap_trim(unsigned age)
{
	struct xmap_spare old[XMAP_SPARES];
	time_t            now = xmap_now();
	size_t            i = 0, n = 0, freed = 0;

	pthread_mutex_lock(&xmap_mu);
	while (i < xmap_nspare) {
		if (now - xmap_spare[i].since < (time_t)age)
			i++;
		else {
			old[n++] = xmap_spare[i];
			xmap_spare[i] = xmap_spare[--xmap_nspare];
		}
	}
	pthread_mutex_unlock(&xmap_mu);
	for (i = 0; i < n; i++) {
		munmap(old[i].p, old[i].len);
		freed += old[i].len;
	}
	return (freed);
}
