/*
 * log.h: logging in the OpenSMTPD style. In the foreground (always under
 * systemd) lines go to stderr without timestamps, since journald adds them;
 * otherwise to syslog. Every function preserves errno.
 */
#ifndef BUDGETD_LOG_H
#define BUDGETD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

void log_init(int foreground, int facility);
void log_setverbose(int);
int  log_getverbose(void);
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void vlog(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
void log_line(int, const char *, ...) __attribute__((format(printf, 2, 3)));
__dead void fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copy a peer-supplied string into buf for logging: printable ASCII kept,
 * everything else as \xNN, clipped to the buffer. Returns buf.
 */
char *log_clean(const char *s, size_t len, char *buf, size_t bufsz);

#endif /* BUDGETD_LOG_H */
