/*
 * replay.c: main() for a fuzz target built without libFuzzer (any
 * compiler): calls LLVMFuzzerInitialize once, then LLVMFuzzerTestOneInput
 * on every file named or found (in name order, not recursing) in the
 * directories named on the command line. A target reports a finding by
 * crashing, so this returns 0 when every input ran. A directory that does
 * not exist is skipped with a note: regress/<target> appears only once
 * the fuzzer found something.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int  replay_file(const char *);
static int  replay_dir(const char *);
static int  replay_select(const struct dirent *);
static void replay_usage(void) __attribute__((noreturn));

static unsigned replay_count;

static void
replay_usage(void)
{
	fprintf(stderr, "usage: replay file|directory ...\n");
	exit(2);
}

/* Run one input, read whole into a buffer of exactly its size. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t    *buf;
	FILE       *f;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	/* Exactly its size, so that ASan sees a read past the end. */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL ||
	    fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		fclose(f);
		free(buf);
		return (-1);
	}
	fclose(f);
	printf("replay: %s (%lld bytes)\n", path, (long long)st.st_size);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
	free(buf);
	replay_count++;
	return (0);
}

static int
replay_select(const struct dirent *d)
{
	return (d->d_name[0] != '.');
}

static int
replay_dir(const char *dir)
{
	struct dirent **names;
	struct stat     st;
	char           *path;
	int             i, n, rc = 0;

	if ((n = scandir(dir, &names, replay_select, alphasort)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (asprintf(&path, "%s%s%s", dir,
			dir[strlen(dir) - 1] == '/' ? "" : "/",
			names[i]->d_name) == -1) {
			perror("replay");
			exit(2);
		}
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(path) == -1)
			rc = -1;
		free(path);
		free(names[i]);
	}
	free(names);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct stat st;
	int         i, rc = 0;

	if (argc < 2)
		replay_usage();
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			if (errno != ENOENT) {
				fprintf(stderr, "replay: %s: %s\n", argv[i],
				    strerror(errno));
				rc = 1;
			} else
				printf(
				    "replay: %s: none yet, skipped\n", argv[i]);
			continue;
		}
		if ((S_ISDIR(st.st_mode) ? replay_dir(argv[i])
					 : replay_file(argv[i])) == -1)
			rc = 1;
	}
	printf("replay: %u inputs ran\n", replay_count);
	return (rc);
}
