/*
 * bench-proc.h: what the benchmarks read of time and of a process's CPU
 * (bench-proc.c), shared by budget-bench and audit-bench.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <sys/types.h>

#include <stdint.h>

/* A process's CPU so far, in seconds; -1 each when /proc does not say. */
struct bench_cpu {
	double cpu;  /* on a CPU, every thread it ever had */
	double wait; /* runnable but waiting for a CPU, its live threads */
};

/* CLOCK_MONOTONIC in microseconds. */
uint64_t bench_mono_us(void);

/* pid's CPU (0: this process). */
void bench_cpu_read(pid_t pid, struct bench_cpu *);

#endif /* BENCH_PROC_H */
