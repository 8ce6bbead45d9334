/*
 * shim_noreplace.c: an LD_PRELOAD library for test_backup. renameat2 with
 * RENAME_NOREPLACE fails with EINVAL, as on an NFS mount, and says so on
 * stderr (budgetd's log), so that the test knows the fallback ran; every
 * other renameat2 goes to the kernel. With SHIM_LINK_EEXIST set, link
 * does its work and then answers EEXIST, as NFS may to a retransmitted
 * call.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
    unsigned int flags)
{
	static const char msg[] = "shim: renameat2 RENAME_NOREPLACE: EINVAL\n";

	if (flags & RENAME_NOREPLACE) {
		/* Only word for the test: a write that fails changes nothing. */
		ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)n;
		errno = EINVAL;
		return (-1);
	}
	return ((int)syscall(
	    SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags));
}

int
link(const char *oldpath, const char *newpath)
{
	static const char msg[] = "shim: link done, EEXIST answered\n";

	if (syscall(SYS_linkat, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0) != 0)
		return (-1);
	if (getenv("SHIM_LINK_EEXIST") != NULL) {
		/* Only word for the test, as above. */
		ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)n;
		errno = EEXIST;
		return (-1);
	}
	return (0);
}
