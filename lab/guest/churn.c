/*
 * allockit lab: anonymous-memory churn, the compilers' part of the synthetic workload.
 *
 *   churn MB HOLD_MS_MAX SEED
 *
 * Forever: map MB MiB of anonymous memory, touch every page (first-touch faults: movable anon
 * pages, some land in the CMA area), hold it for a random 1..HOLD_MS_MAX ms re-dirtying a random
 * page every millisecond, unmap it. This is the arrival and exit of compiler processes in
 * allockit/workload/kbuild.py, without the compiler. The random stream is xorshift from SEED,
 * so a run is repeatable up to the scheduler.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	size_t len;
	long hold_max;
	struct timespec ms = { 0, 1000000 };

	if (argc != 4) {
		fprintf(stderr, "usage: churn MB HOLD_MS_MAX SEED\n");
		return 2;
	}
	len = strtoul(argv[1], NULL, 10) << 20;
	hold_max = strtol(argv[2], NULL, 10);
	rng = strtoull(argv[3], NULL, 10) * 2654435761ULL + 1;
	if (len == 0 || hold_max < 1) {
		fprintf(stderr, "churn: MB and HOLD_MS_MAX must be > 0\n");
		return 2;
	}
	for (;;) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long hold = 1 + (long)(next() % (uint64_t)hold_max);

		if (p == MAP_FAILED) {
			nanosleep(&ms, NULL);
			continue;
		}
		for (size_t off = 0; off < len; off += 4096)
			p[off] = (char)off;
		for (long i = 0; i < hold; i++) {
			p[(next() % (len >> 12)) << 12]++;
			nanosleep(&ms, NULL);
		}
		munmap(p, len);
	}
}
