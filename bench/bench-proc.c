/*
 * bench-proc.c: time and a process's CPU for the benchmarks. The CPU is
 * the whole process's: budgetd answers reads on a reader thread and
 * verify on a second one that exits when done, so one thread's figures
 * (/proc/PID/schedstat is the main thread's alone) would leave them out.
 * /proc/PID/stat counts every thread, gone ones included; the time spent
 * waiting for a CPU exists per thread only, summed over the live ones.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-proc.h"

uint64_t
bench_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

/* utime + stime of every thread, in seconds; -1 when unreadable. */
static double
bench_cpu_stat(const char *proc)
{
	char               path[96], buf[1024], *p;
	FILE              *f;
	unsigned long long ut, st;
	long               hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "%s/stat", proc);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* The command name may hold spaces: fields count from its ')'. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL || hz <= 0 ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		&st) != 2)
		return (-1);
	return ((double)(ut + st) / (double)hz);
}

/* The wait of each live thread, summed, in seconds; -1 when unreadable. */
static double
bench_cpu_wait(const char *proc)
{
	char               path[96], task[96 + 256 + 16];
	DIR               *d;
	struct dirent     *e;
	FILE              *f;
	unsigned long long run_ns, wait_ns, sum = 0;
	int                any = 0;

	snprintf(path, sizeof(path), "%s/task", proc);
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(
		    task, sizeof(task), "%s/%s/schedstat", path, e->d_name);
		if ((f = fopen(task, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu %llu", &run_ns, &wait_ns) == 2) {
			sum += wait_ns;
			any = 1;
		}
		fclose(f);
	}
	closedir(d);
	return (any ? (double)sum / 1e9 : -1);
}

void
bench_cpu_read(pid_t pid, struct bench_cpu *c)
{
	char proc[64];

	if (pid < 0) {
		c->cpu = c->wait = -1;
		return;
	}
	if (pid == 0)
		snprintf(proc, sizeof(proc), "/proc/self");
	else
		snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	c->cpu = bench_cpu_stat(proc);
	c->wait = bench_cpu_wait(proc);
}
