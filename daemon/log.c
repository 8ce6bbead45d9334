/*
 * log.c: where budgetd's messages go. One API (log.h) for the whole daemon,
 * libevent's own warnings routed into it, and nothing that can change errno
 * behind a caller's back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbose;

void
log_init(int foreground, int facility)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("budgetd", LOG_PID | LOG_NDELAY, facility);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	int saved = errno;

	if (log_foreground) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
	errno = saved;
}

static void
log_errno(int pri, int err, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err != 0)
		log_line(pri, "%s: %s", buf, strerror(err));
	else
		log_line(pri, "%s", buf);
}

void
log_line(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;

	va_start(ap, fmt);
	log_errno(LOG_ERR, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_clean(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t i, o = 0;

	if (bufsz == 0)
		return (buf);
	for (i = 0; i < len && o + 5 < bufsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return (buf);
}
