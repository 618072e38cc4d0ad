/*
 * A minimal array-based buddy allocator in C, as the yardstick for allockit's compiled one.
 *
 * Same churn as allockit.bench.run_churn: a 1.5 GiB zone (393216 pages), allocate while
 * free pages exceed 25 % of the zone, else free a random live block; order mix 0..4 with
 * probabilities 0.90/0.04/0.03/0.02/0.01. One free list per order (no migratetypes, no
 * per-CPU lists, no watermarks): a lower bound on what a buddy allocator step costs.
 *
 * Build and run: gcc -O2 -o c_buddy c_buddy.c && ./c_buddy [ops]
 * Prints: ns_per_op=<float>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_ORDER 11
#define NR_PAGES 393216
#define NLISTS MAX_ORDER

static int32_t nxt[NR_PAGES + NLISTS], prv[NR_PAGES + NLISTS];
static int8_t ord[NR_PAGES];
static uint8_t isfree[NR_PAGES];
static long nr_free_pages;
static int64_t live_pfn[NR_PAGES], live_ord[NR_PAGES];

static inline void list_add(int32_t e, int32_t h)
{
	int32_t n = nxt[h];
	nxt[h] = e; prv[e] = h; nxt[e] = n; prv[n] = e;
}

static inline void list_del(int32_t e)
{
	int32_t n = nxt[e], p = prv[e];
	nxt[p] = n; prv[n] = p;
}

static void free_block(int64_t pfn, int order)
{
	nr_free_pages += 1L << order;
	while (order < MAX_ORDER - 1) {
		int64_t buddy = pfn ^ (1L << order);
		if (buddy >= NR_PAGES || !isfree[buddy] || ord[buddy] != order)
			break;
		list_del(buddy);
		isfree[buddy] = 0;
		pfn &= buddy;
		order++;
	}
	isfree[pfn] = 1;
	ord[pfn] = order;
	list_add(pfn, NR_PAGES + order);
}

static int64_t alloc_block(int order)
{
	for (int o = order; o < MAX_ORDER; o++) {
		int32_t h = NR_PAGES + o;
		if (nxt[h] == h)
			continue;
		int64_t pfn = nxt[h];
		list_del(pfn);
		isfree[pfn] = 0;
		while (o > order) {
			o--;
			int64_t half = pfn + (1L << o);
			isfree[half] = 1;
			ord[half] = o;
			list_add(half, NR_PAGES + o);
		}
		nr_free_pages -= 1L << order;
		return pfn;
	}
	return -1;
}

static uint64_t rng = 88172645463325252ULL;
static inline uint64_t xorshift(void)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return rng;
}

static int draw_order(void)
{
	double u = (xorshift() >> 11) * (1.0 / 9007199254740992.0);
	if (u < 0.90) return 0;
	if (u < 0.94) return 1;
	if (u < 0.97) return 2;
	if (u < 0.99) return 3;
	return 4;
}

static void churn(long ops, long target, long *nlive)
{
	for (long i = 0; i < ops; i++) {
		if (*nlive == 0 || nr_free_pages > target) {
			int o = draw_order();
			int64_t pfn = alloc_block(o);
			if (pfn >= 0) {
				live_pfn[*nlive] = pfn;
				live_ord[*nlive] = o;
				(*nlive)++;
			}
		} else {
			long v = xorshift() % *nlive;
			free_block(live_pfn[v], live_ord[v]);
			(*nlive)--;
			live_pfn[v] = live_pfn[*nlive];
			live_ord[v] = live_ord[*nlive];
		}
	}
}

int main(int argc, char **argv)
{
	long ops = argc > 1 ? atol(argv[1]) : 2000000;
	long nlive = 0, target = NR_PAGES / 4;
	struct timespec t0, t1;

	for (int i = 0; i < NR_PAGES + NLISTS; i++)
		nxt[i] = prv[i] = i;
	for (int64_t pfn = 0; pfn < NR_PAGES; pfn += 1 << (MAX_ORDER - 1))
		free_block(pfn, MAX_ORDER - 1);
	churn(NR_PAGES, target, &nlive); /* fill to 75 % */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	churn(ops, target, &nlive);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("ns_per_op=%.1f\n", ns / ops);
	return 0;
}
