/*
 * allockit lab: time-distortion calibration (docs/lab.md, "Time distortion").
 *
 * The same static binary runs on the host (natively) and in the guest (under QEMU TCG) at boot;
 * the ratio guest/host of each figure is how much slower the emulated machine is at that kind
 * of work. It prints one line:
 *
 *   ALLOCKIT calib int_ns=... memcpy_ns=... memset_ns=... fault_ns=...
 *
 *   int_ns     an integer loop (xorshift, 50M steps): the pointer/integer work of page walks,
 *              buddy and isolation loops
 *   memcpy_ns  copying 16 MiB between two already-touched buffers, 4 times: page migration's
 *              copy_page
 *   memset_ns  clearing one already-touched 16 MiB buffer, 4 times
 *   fault_ns   first touch of a fresh 32 MiB anonymous mapping (8192 page faults)
 *
 * Each figure is the minimum over 3 repetitions (the least disturbed run).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MB (1UL << 20)
#define REPS 3

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static volatile uint64_t sink;

static uint64_t t_int(void)
{
	uint64_t x = 88172645463325252ULL, t0 = now_ns();

	for (long i = 0; i < 50000000L; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink = x;
	return now_ns() - t0;
}

static uint64_t t_memcpy(char *a, char *b)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < 4; i++) {
		memcpy(i & 1 ? a : b, i & 1 ? b : a, 16 * MB);
		sink += (unsigned char)a[i * 4096];
	}
	return now_ns() - t0;
}

static uint64_t t_memset(char *a)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < 4; i++) {
		memset(a, i, 16 * MB);
		sink += (unsigned char)a[i * 4096];
	}
	return now_ns() - t0;
}

static uint64_t t_fault(void)
{
	size_t len = 32 * MB;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0, dt;

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	t0 = now_ns();
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 1;
	dt = now_ns() - t0;
	munmap(p, len);
	return dt;
}

static uint64_t min3(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int main(void)
{
	char *a = malloc(16 * MB), *b = malloc(16 * MB);
	uint64_t ti = UINT64_MAX, tc = UINT64_MAX, ts = UINT64_MAX, tf = UINT64_MAX;

	if (!a || !b)
		return 1;
	memset(a, 1, 16 * MB); /* touch both buffers first: copies, not faults, are timed */
	memset(b, 2, 16 * MB);
	for (int r = 0; r < REPS; r++) {
		ti = min3(ti, t_int());
		tc = min3(tc, t_memcpy(a, b));
		ts = min3(ts, t_memset(a));
		tf = min3(tf, t_fault());
	}
	printf("ALLOCKIT calib int_ns=%llu memcpy_ns=%llu memset_ns=%llu fault_ns=%llu\n",
	       (unsigned long long)ti, (unsigned long long)tc, (unsigned long long)ts,
	       (unsigned long long)tf);
	return 0;
}
