// SPDX-License-Identifier: GPL-2.0
/*
 * allockit_lab: the measuring side of the allockit real-kernel lab (docs/lab.md).
 *
 * Runs, in the kernel, the strategies of allockit/strategies/ that a stock kernel can run, on
 * the default CMA area (cma=<size> on the command line), and reports one result per run:
 *
 *   cma_single  ORDER NR ALIGN   one cma_alloc(NR << ORDER, ALIGN)           (strategies/cma_single.py)
 *   cma_chunked ORDER NR CHUNK   cma_alloc(2^CHUNK, align CHUNK) until NR order-ORDER pieces,
 *                                a smaller tail call, stop at the first failure (cma_chunked.py)
 *   cma_many    ORDER NR         NR x cma_alloc(2^ORDER, align ORDER), stop at first failure
 *                                (cma_many.py)
 *   buddy       ORDER NR GFP     NR x alloc_pages(GFP, ORDER), GFP "kernel" = GFP_KERNEL or
 *                                "movable" = GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL, stop at the
 *                                first failure (buddy_compaction.py)
 *
 * Write the command to /sys/kernel/debug/allockit_lab/run; the write runs the experiment in the
 * writer's context, releases everything it got, and a read of the same file returns one line:
 *
 *   exp=cma_single order=4 nr=4800 param=8 got=4800 ret=0 latency_ns=... calls=1
 *   max_call_ns=... acr_calls=... acr_ebusy=... acr_other=... acr_missed=...
 *
 * got counts order-ORDER pieces; ret is 0 or the negative errno that ended the run (-ENOMEM for
 * a NULL from cma_alloc/alloc_pages, as the simulator's strategies report); calls counts
 * cma_alloc/alloc_pages calls. acr_* come from a kretprobe on alloc_contig_range (every call
 * cma_alloc makes; -EBUSY returns are cma_alloc's busy retries, i.e. the slides of its window,
 * the simulator's sim_alloc_contig_ebusy / sim_cma_alloc_retry). All allocations pass
 * __GFP_NOWARN / no_warn so that failure reports do not flood the (slow, emulated) serial console.
 *
 * The result line then carries the busy-page census of the run (busy_fails=.. busy_<class>=..
 * busy_distinct_<class>=.., see "the busy-page census" below) and
 * /sys/kernel/debug/allockit_lab/busy reads one line per distinct busy pfn (the first 20).
 *
 * /sys/kernel/debug/allockit_lab/info reads "cma=<name> base_pfn=<pfn> count=<pages>".
 * cma_alloc and friends are exported by lab/kernel/build-kernel.sh (not exported upstream).
 */
#include <linux/module.h>
#include <linux/bitmap.h>
#include <linux/buffer_head.h>
#include <linux/cma.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("allockit lab: cma_alloc / alloc_pages strategies, timed");

static struct cma *lab_cma;
static struct dentry *lab_dir;
static DEFINE_MUTEX(lab_lock);
static char result[2048];

/* --- busy retries: a kretprobe on alloc_contig_range ------------------------------------- */
static atomic_long_t acr_calls, acr_ebusy, acr_other;

static int acr_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	long ret = (long)(int)regs_return_value(regs);

	atomic_long_inc(&acr_calls);
	if (ret == -EBUSY)
		atomic_long_inc(&acr_ebusy);
	else if (ret)
		atomic_long_inc(&acr_other);
	return 0;
}

static struct kretprobe acr_probe = {
	.handler = acr_ret,
	.kp.symbol_name = "alloc_contig_range",
	.maxactive = 8,
};

/* --- the busy-page census: what makes alloc_contig_range return -EBUSY ----------------------
 *
 * alloc_contig_range's -EBUSY comes (in 5.10 and 6.1) from test_pages_isolated(outer_start, end,
 * 0) failing after migration: __test_page_isolated_in_pageblock walks the range and stops at the
 * first pfn that is not a free buddy page (PageBuddy, skipped by its order). A kretprobe on
 * test_pages_isolated saves start/end at entry and, on a nonzero return, repeats that walk under
 * zone->lock to find the first busy pfn, classifies the page and keeps (per run) counts by class
 * (failures, and distinct pfns: a bitmap over the CMA area) and the first BUSY_DETAIL distinct
 * busy pages in full (as first seen, with their number of failures and the class at the last).
 * A second kretprobe counts start_isolate_page_range's failures (the other -EBUSY source).
 * Everything a handler reads through a pointer other than struct page itself (mapping, inode,
 * superblock, buffer head) is read with get_kernel_nofault: the page can be truncated and its
 * mapping freed while we look (kretprobe handlers run in atomic context).
 */
enum busy_class {
	BC_FREE_NOBUDDY,	/* count 0, not PageBuddy: on a per-cpu list or being freed */
	BC_SLAB,
	BC_PAGETABLE,
	BC_TYPED,		/* another page type (offline, guard, kmemcg on 5.10) */
	BC_ANON_LRU,
	BC_ANON_NOLRU,		/* anon off the LRU: isolated, in a per-cpu LRU batch, pinned */
	BC_MOVABLE_NONLRU,	/* __PageMovable: zsmalloc, balloon, z3fold */
	BC_FILE_WRITEBACK,
	BC_FILE_LOCKED,		/* PG_locked, not writeback: read I/O in flight, truncation, ... */
	BC_FILE_DIRTY,
	BC_FILE_NOLRU,		/* page cache, unlocked, off the LRU (isolated, per-cpu LRU batch) */
	BC_FILE_BUFFERS,	/* page cache on the LRU, clean, with private data (buffer heads) */
	BC_FILE_LRU_CLEAN,	/* page cache on the LRU, clean, no private data */
	BC_LRU_NOMAPPING,	/* PageLRU but no mapping: truncated / anon being unmapped */
	BC_COMPOUND_KERNEL,	/* compound, no mapping, not LRU: a kernel high-order allocation */
	BC_KERNEL,		/* count > 0, no mapping, not LRU, order 0: a kernel allocation */
	BC_RACED,		/* the walk found no busy pfn: it was freed before we looked, or a
				 * pageblock was not isolated (test_pages_isolated's first check) */
	NR_BC
};

static const char *const bc_names[NR_BC] = {
	"free_nobuddy", "slab", "pagetable", "typed", "anon_lru", "anon_nolru", "movable_nonlru",
	"file_writeback", "file_locked", "file_dirty", "file_nolru", "file_buffers",
	"file_lru_clean", "lru_nomapping", "compound_kernel", "kernel", "raced",
};

#define BUSY_DETAIL 20

struct busy_rec {
	unsigned long start, end, pfn;	/* the tested range, the first busy pfn */
	unsigned long flags;		/* head page's flags */
	unsigned long private;
	unsigned long mapping;		/* raw head->mapping (low bits: anon / movable) */
	void *aops;
	int count, mapcount, extra;	/* page_count, mapcount (-1: typed/slab), refs unexplained */
	int bh_count;			/* b_count of the first buffer head, -1: none / unreadable */
	unsigned long bh_state;		/* its b_state (BH_JBD: jbd2 holds a journal_head on it) */
	u64 bh_blocknr;
	unsigned int cls, corder, in_cma;
	unsigned int hits, last_cls;	/* failures at this pfn in the run, the class at the last */
	char fs[16];
};

static DEFINE_RAW_SPINLOCK(busy_lock);
static unsigned long busy_count[NR_BC], busy_dcount[NR_BC]; /* failures, distinct pfns */
static unsigned long busy_bdev, busy_bh_held, busy_jbd;
static unsigned long busy_fails, busy_repeat, busy_same_last, busy_outside, busy_last_pfn;
static unsigned long *busy_seen;		/* bitmap: CMA-area offsets that were busy */
static unsigned long busy_seen_bits, cma_base_pfn;
static struct busy_rec busy_recs[BUSY_DETAIL];
static unsigned int busy_nrec;
static atomic_long_t sip_calls, sip_fail, tpi_calls;

struct tpi_args {
	unsigned long start, end;
};

static int tpi_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct tpi_args *a = (struct tpi_args *)ri->data;

	a->start = regs_get_kernel_argument(regs, 0);
	a->end = regs_get_kernel_argument(regs, 1);
	return 0;
}

/* the first pfn in [pfn, end) that is not a free buddy page, or end (as in the kernel) */
static unsigned long first_busy(unsigned long pfn, unsigned long end)
{
	while (pfn < end) {
		struct page *page = pfn_to_page(pfn);

		if (PageBuddy(page))
			pfn += 1UL << page_private(page);
		else
			break;
	}
	return pfn;
}

/* strncpy_from_kernel_nofault is not exported in 5.10: a byte at a time */
static void copy_name_nofault(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		char c;

		if (get_kernel_nofault(c, src + i) || !c)
			break;
		dst[i] = (c > ' ' && c <= '~' && c != '=') ? c : '_';
	}
	dst[i] = '\0';
}

static void classify(struct page *page, struct busy_rec *b)
{
	struct page *head = compound_head(page);
	unsigned long mapping = (unsigned long)READ_ONCE(head->mapping);
	bool lru = PageLRU(head), typed = page_has_type(head), slab = PageSlab(head);
	int nr = 1;

	b->flags = READ_ONCE(head->flags);
	b->private = page_private(head);
	b->mapping = mapping;
	b->count = page_count(page);
	b->corder = PageCompound(page) ? compound_order(head) : 0;
	if (PageCompound(page))
		nr = 1 << b->corder;
	b->mapcount = (typed || slab) ? -1 : atomic_read(&head->_mapcount) + 1;
	b->extra = 0;
	b->bh_count = -1;
	b->aops = NULL;
	b->fs[0] = '\0';

	if (!b->count && !PageBuddy(page))
		b->cls = BC_FREE_NOBUDDY;
	else if (slab)
		b->cls = BC_SLAB;
	else if (PageTable(head))
		b->cls = BC_PAGETABLE;
	else if (typed)
		b->cls = BC_TYPED;
	else if (mapping & PAGE_MAPPING_ANON) {
		b->cls = lru ? BC_ANON_LRU : BC_ANON_NOLRU;
		b->extra = b->count - b->mapcount - (PageSwapCache(head) ? nr : 0);
	} else if (mapping & PAGE_MAPPING_MOVABLE)
		b->cls = BC_MOVABLE_NONLRU;
	else if (mapping) {
		struct address_space *as = (struct address_space *)mapping;
		struct inode *host = NULL;
		struct super_block *sb = NULL;
		struct file_system_type *fst = NULL;
		const char *name = NULL;

		if (!get_kernel_nofault(b->aops, (void **)&as->a_ops) &&
		    !get_kernel_nofault(host, &as->host) && host &&
		    !get_kernel_nofault(sb, &host->i_sb) && sb &&
		    !get_kernel_nofault(fst, &sb->s_type) && fst &&
		    !get_kernel_nofault(name, &fst->name) && name)
			copy_name_nofault(b->fs, name, sizeof(b->fs));
		if (PagePrivate(head) && b->private) {
			struct buffer_head *bh = (struct buffer_head *)b->private;
			atomic_t cnt;

			if (!get_kernel_nofault(cnt, &bh->b_count))
				b->bh_count = atomic_read(&cnt);
			if (get_kernel_nofault(b->bh_state, &bh->b_state) ||
			    get_kernel_nofault(b->bh_blocknr, &bh->b_blocknr))
				b->bh_state = b->bh_blocknr = 0;
		}
		/* page cache holds one reference per page, private data one */
		b->extra = b->count - b->mapcount - nr - (page_has_private(head) ? 1 : 0);
		if (PageWriteback(head))
			b->cls = BC_FILE_WRITEBACK;
		else if (PageLocked(head))
			b->cls = BC_FILE_LOCKED;
		else if (PageDirty(head))
			b->cls = BC_FILE_DIRTY;
		else if (!lru)
			b->cls = BC_FILE_NOLRU;
		else if (page_has_private(head))
			b->cls = BC_FILE_BUFFERS;
		else
			b->cls = BC_FILE_LRU_CLEAN;
	} else if (lru)
		b->cls = BC_LRU_NOMAPPING;
	else if (PageCompound(page))
		b->cls = BC_COMPOUND_KERNEL;
	else
		b->cls = BC_KERNEL;
}

static int tpi_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct tpi_args *a = (struct tpi_args *)ri->data;
	struct busy_rec b = {};
	unsigned long flags, zflags, pfn, off;
	struct zone *zone;

	atomic_long_inc(&tpi_calls);
	if (!(int)regs_return_value(regs) || a->start >= a->end || !pfn_valid(a->start))
		return 0;
	zone = page_zone(pfn_to_page(a->start));
	spin_lock_irqsave(&zone->lock, zflags);
	pfn = first_busy(a->start, a->end);
	b.start = a->start;
	b.end = a->end;
	b.pfn = pfn;
	if (pfn < a->end)
		classify(pfn_to_page(pfn), &b);
	else
		b.cls = BC_RACED;
	spin_unlock_irqrestore(&zone->lock, zflags);

	raw_spin_lock_irqsave(&busy_lock, flags);
	busy_fails++;
	busy_count[b.cls]++;
	if (!strcmp(b.fs, "bdev"))
		busy_bdev++;
	if (b.bh_count > 0)
		busy_bh_held++;
	if (b.bh_count >= 0 && (b.bh_state & (1UL << BH_PrivateStart)))
		busy_jbd++;
	if (b.cls != BC_RACED) {
		bool seen = false;
		unsigned int i;

		off = pfn - cma_base_pfn;
		if (pfn >= cma_base_pfn && off < busy_seen_bits) {
			b.in_cma = 1;
			seen = __test_and_set_bit(off, busy_seen);
		} else {
			busy_outside++;
		}
		if (seen)
			busy_repeat++;
		else
			busy_dcount[b.cls]++;
		if (pfn == busy_last_pfn)
			busy_same_last++;
		busy_last_pfn = pfn;
		/* the detail: the first BUSY_DETAIL distinct pfns, with their hit counts */
		for (i = 0; i < busy_nrec; i++) {
			if (busy_recs[i].pfn == pfn && busy_recs[i].cls != BC_RACED) {
				busy_recs[i].hits++;
				busy_recs[i].last_cls = b.cls;
				break;
			}
		}
		if (i == busy_nrec && busy_nrec < BUSY_DETAIL) {
			b.hits = 1;
			b.last_cls = b.cls;
			busy_recs[busy_nrec++] = b;
		}
	} else if (busy_nrec < BUSY_DETAIL) {
		b.hits = 1;
		b.last_cls = b.cls;
		busy_recs[busy_nrec++] = b;
	}
	raw_spin_unlock_irqrestore(&busy_lock, flags);
	return 0;
}

static struct kretprobe tpi_probe = {
	.entry_handler = tpi_entry,
	.handler = tpi_ret,
	.data_size = sizeof(struct tpi_args),
	.kp.symbol_name = "test_pages_isolated",
	.maxactive = 8,
};

static int sip_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	atomic_long_inc(&sip_calls);
	if ((int)regs_return_value(regs))
		atomic_long_inc(&sip_fail);
	return 0;
}

static struct kretprobe sip_probe = {
	.handler = sip_ret,
	.kp.symbol_name = "start_isolate_page_range",
	.maxactive = 8,
};

static void busy_reset(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&busy_lock, flags);
	memset(busy_count, 0, sizeof(busy_count));
	memset(busy_dcount, 0, sizeof(busy_dcount));
	busy_bdev = busy_bh_held = busy_jbd = 0;
	busy_fails = busy_repeat = busy_same_last = busy_outside = 0;
	busy_last_pfn = ULONG_MAX;
	busy_nrec = 0;
	bitmap_zero(busy_seen, busy_seen_bits);
	raw_spin_unlock_irqrestore(&busy_lock, flags);
	atomic_long_set(&sip_calls, 0);
	atomic_long_set(&sip_fail, 0);
	atomic_long_set(&tpi_calls, 0);
	tpi_probe.nmissed = 0;
	sip_probe.nmissed = 0;
}

/* " busy_fails=.. busy_distinct=.. ... busy_<class>=.." appended to the result line */
static int busy_summary(char *buf, size_t len)
{
	int n, i;

	n = scnprintf(buf, len,
		      " tpi_calls=%ld busy_fails=%lu busy_distinct=%lu busy_repeat=%lu "
		      "busy_same_last=%lu busy_outside=%lu sip_calls=%ld sip_fail=%ld "
		      "busy_missed=%d busy_bdev=%lu busy_bh_held=%lu busy_jbd=%lu",
		      atomic_long_read(&tpi_calls), busy_fails,
		      (unsigned long)bitmap_weight(busy_seen, busy_seen_bits), busy_repeat, busy_same_last,
		      busy_outside, atomic_long_read(&sip_calls), atomic_long_read(&sip_fail),
		      tpi_probe.nmissed + sip_probe.nmissed, busy_bdev, busy_bh_held, busy_jbd);
	for (i = 0; i < NR_BC; i++)
		n += scnprintf(buf + n, len - n, " busy_%s=%lu", bc_names[i], busy_count[i]);
	for (i = 0; i < NR_BC; i++)
		n += scnprintf(buf + n, len - n, " busy_distinct_%s=%lu", bc_names[i],
			       busy_dcount[i]);
	return n;
}

/* /sys/kernel/debug/allockit_lab/busy: one line per kept page of the last run */
static ssize_t busy_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	size_t cap = BUSY_DETAIL * 512;
	char *buf;
	unsigned int i;
	ssize_t n = 0, ret;

	buf = kvmalloc(cap, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&lab_lock);
	for (i = 0; i < busy_nrec; i++) {
		struct busy_rec *b = &busy_recs[i];
		unsigned long fl = b->flags;

		n += scnprintf(buf + n, cap - n,
			       "i=%u pfn=%lu off=%ld start_off=%ld end_off=%ld class=%s count=%d "
			       "mapcount=%d extra=%d flags=%pGp anon=%d lru=%d compound_order=%u "
			       "private=%#lx mapping=%s aops=%ps fs=%s bh_count=%d bh_state=%#lx "
			       "bh_jbd=%d bh_blocknr=%llu in_cma=%u hits=%u last_class=%s\n",
			       i, b->pfn, (long)(b->pfn - cma_base_pfn),
			       (long)(b->start - cma_base_pfn), (long)(b->end - cma_base_pfn),
			       bc_names[b->cls], b->count, b->mapcount, b->extra, &fl,
			       !!(b->mapping & PAGE_MAPPING_ANON), !!(fl & (1UL << PG_lru)),
			       b->corder, b->private,
			       !b->mapping ? "none" : (b->mapping & PAGE_MAPPING_ANON) ? "anon" :
			       (b->mapping & PAGE_MAPPING_MOVABLE) ? "movable" : "file",
			       b->aops, b->fs[0] ? b->fs : "-", b->bh_count, b->bh_state,
			       b->bh_count >= 0 && (b->bh_state & (1UL << BH_PrivateStart)) ? 1 : 0,
			       (unsigned long long)b->bh_blocknr, b->in_cma, b->hits,
			       bc_names[b->last_cls]);
	}
	mutex_unlock(&lab_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, buf, n);
	kvfree(buf);
	return ret;
}

static const struct file_operations busy_fops = {
	.owner = THIS_MODULE,
	.read = busy_read,
	.llseek = default_llseek,
};

/* --- the CMA area ------------------------------------------------------------------------ */
static int pick_area(struct cma *cma, void *data)
{
	/* the largest area: the one cma= reserved ("reserved") */
	if (!lab_cma || cma_get_size(cma) > cma_get_size(lab_cma))
		lab_cma = cma;
	return 0;
}

/* --- what a run got, released at the end ------------------------------------------------- */
struct piece {
	struct page *page;
	unsigned long count; /* pages */
	bool buddy;
};

struct run {
	struct piece *pieces;
	unsigned long npieces, cap;
	unsigned int order;
	u64 max_call_ns;
	unsigned long calls;
};

static int keep(struct run *r, struct page *page, unsigned long count, bool buddy)
{
	if (r->npieces == r->cap)
		return -ENOSPC;
	r->pieces[r->npieces].page = page;
	r->pieces[r->npieces].count = count;
	r->pieces[r->npieces].buddy = buddy;
	r->npieces++;
	return 0;
}

static void release_all(struct run *r)
{
	unsigned long i;

	for (i = 0; i < r->npieces; i++) {
		if (r->pieces[i].buddy)
			__free_pages(r->pieces[i].page, r->order);
		else
			cma_release(lab_cma, r->pieces[i].page, r->pieces[i].count);
	}
	r->npieces = 0;
}

static struct page *timed_cma_alloc(struct run *r, unsigned long count, unsigned int align)
{
	u64 t0 = ktime_get_ns(), dt;
	struct page *p = cma_alloc(lab_cma, count, align, true);

	dt = ktime_get_ns() - t0;
	if (dt > r->max_call_ns)
		r->max_call_ns = dt;
	r->calls++;
	return p;
}

/* strategies/cma_single.py */
static long run_cma_single(struct run *r, unsigned long nr, unsigned int align)
{
	unsigned long count = nr << r->order;
	struct page *p = timed_cma_alloc(r, count, align);

	if (!p)
		return -ENOMEM;
	keep(r, p, count, false);
	return 0;
}

/* strategies/cma_chunked.py: chunks of 2^chunk pages, align chunk, the tail smaller */
static long run_cma_chunked(struct run *r, unsigned long nr, unsigned int chunk,
			    unsigned long *got)
{
	unsigned long per_chunk = 1UL << (chunk - r->order);

	while (*got < nr) {
		unsigned long need = nr - *got;
		unsigned long count = min(1UL << chunk, need << r->order);
		unsigned int align = need >= per_chunk ? chunk : r->order;
		struct page *p = timed_cma_alloc(r, count, align);

		if (!p)
			return -ENOMEM;
		if (keep(r, p, count, false)) {
			cma_release(lab_cma, p, count);
			return -ENOSPC;
		}
		*got += count >> r->order;
	}
	return 0;
}

/* strategies/cma_many.py */
static long run_cma_many(struct run *r, unsigned long nr, unsigned long *got)
{
	while (*got < nr) {
		struct page *p = timed_cma_alloc(r, 1UL << r->order, r->order);

		if (!p)
			return -ENOMEM;
		if (keep(r, p, 1UL << r->order, false)) {
			cma_release(lab_cma, p, 1UL << r->order);
			return -ENOSPC;
		}
		(*got)++;
	}
	return 0;
}

/* strategies/buddy_compaction.py */
static long run_buddy(struct run *r, unsigned long nr, gfp_t gfp, unsigned long *got)
{
	while (*got < nr) {
		u64 t0 = ktime_get_ns(), dt;
		struct page *p = alloc_pages(gfp | __GFP_NOWARN, r->order);

		dt = ktime_get_ns() - t0;
		if (dt > r->max_call_ns)
			r->max_call_ns = dt;
		r->calls++;
		if (!p)
			return -ENOMEM;
		if (keep(r, p, 1UL << r->order, true)) {
			__free_pages(p, r->order);
			return -ENOSPC;
		}
		(*got)++;
	}
	return 0;
}

static ssize_t run_write(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char cmd[128], exp[24], param[24];
	unsigned int order;
	unsigned long nr, got = 0, cap, cma_pages;
	struct run r = {};
	long ret, p = 0;
	u64 t0, lat;
	int n;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	param[0] = '\0';
	n = sscanf(cmd, "%23s %u %lu %23s", exp, &order, &nr, param);
	if (n < 3 || order >= MAX_ORDER || nr == 0)
		return -EINVAL;
	cma_pages = cma_get_size(lab_cma) >> PAGE_SHIFT;
	if (strcmp(exp, "buddy") && (nr << order) > cma_pages)
		return -EINVAL;
	if (strcmp(exp, "buddy") && strcmp(exp, "cma_many") && (n < 4 || kstrtol(param, 10, &p)))
		return -EINVAL;
	if (!strcmp(exp, "cma_chunked") && (p < order || p >= MAX_ORDER))
		return -EINVAL;
	if (!strcmp(exp, "buddy") && (n < 4 || (strcmp(param, "kernel") && strcmp(param, "movable"))))
		return -EINVAL;

	cap = strcmp(exp, "cma_single") ? nr : 1;
	r.pieces = kvcalloc(cap, sizeof(*r.pieces), GFP_KERNEL);
	if (!r.pieces)
		return -ENOMEM;
	r.cap = cap;
	r.order = order;

	mutex_lock(&lab_lock);
	atomic_long_set(&acr_calls, 0);
	atomic_long_set(&acr_ebusy, 0);
	atomic_long_set(&acr_other, 0);
	acr_probe.nmissed = 0;
	busy_reset();
	t0 = ktime_get_ns();
	if (!strcmp(exp, "cma_single")) {
		ret = run_cma_single(&r, nr, p);
		got = ret ? 0 : nr;
	} else if (!strcmp(exp, "cma_chunked")) {
		ret = run_cma_chunked(&r, nr, p, &got);
	} else if (!strcmp(exp, "cma_many")) {
		ret = run_cma_many(&r, nr, &got);
	} else if (!strcmp(exp, "buddy")) {
		gfp_t gfp = !strcmp(param, "kernel") ? GFP_KERNEL :
			    GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL;
		ret = run_buddy(&r, nr, gfp, &got);
	} else {
		mutex_unlock(&lab_lock);
		kvfree(r.pieces);
		return -EINVAL;
	}
	lat = ktime_get_ns() - t0;
	release_all(&r);
	n = scnprintf(result, sizeof(result),
		  "exp=%s order=%u nr=%lu param=%s got=%lu ret=%ld latency_ns=%llu calls=%lu "
		  "max_call_ns=%llu acr_calls=%ld acr_ebusy=%ld acr_other=%ld acr_missed=%d",
		  exp, order, nr, param[0] ? param : "-", got, ret, lat, r.calls, r.max_call_ns,
		  atomic_long_read(&acr_calls), atomic_long_read(&acr_ebusy),
		  atomic_long_read(&acr_other), acr_probe.nmissed);
	n += busy_summary(result + n, sizeof(result) - n - 1);
	scnprintf(result + n, sizeof(result) - n, "\n");
	mutex_unlock(&lab_lock);
	kvfree(r.pieces);
	return len;
}

static ssize_t run_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	ssize_t n;

	mutex_lock(&lab_lock);
	n = simple_read_from_buffer(ubuf, len, ppos, result, strlen(result));
	mutex_unlock(&lab_lock);
	return n;
}

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.write = run_write,
	.read = run_read,
	.llseek = default_llseek,
};

static ssize_t info_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[160];
	int n = scnprintf(buf, sizeof(buf), "cma=%s base_pfn=%lu count=%lu\n",
			  cma_get_name(lab_cma),
			  (unsigned long)(cma_get_base(lab_cma) >> PAGE_SHIFT),
			  cma_get_size(lab_cma) >> PAGE_SHIFT);

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations info_fops = {
	.owner = THIS_MODULE,
	.read = info_read,
	.llseek = default_llseek,
};

static int __init lab_init(void)
{
	int err;

	cma_for_each_area(pick_area, NULL);
	if (!lab_cma) {
		pr_err("allockit_lab: no CMA area (boot with cma=<size>)\n");
		return -ENODEV;
	}
	cma_base_pfn = cma_get_base(lab_cma) >> PAGE_SHIFT;
	busy_seen_bits = cma_get_size(lab_cma) >> PAGE_SHIFT;
	busy_seen = bitmap_zalloc(busy_seen_bits, GFP_KERNEL);
	if (!busy_seen)
		return -ENOMEM;
	err = register_kretprobe(&acr_probe);
	if (err) {
		pr_err("allockit_lab: kretprobe on alloc_contig_range: %d\n", err);
		goto free_bitmap;
	}
	err = register_kretprobe(&tpi_probe);
	if (err) {
		pr_err("allockit_lab: kretprobe on test_pages_isolated: %d\n", err);
		goto unreg_acr;
	}
	err = register_kretprobe(&sip_probe);
	if (err) {
		pr_err("allockit_lab: kretprobe on start_isolate_page_range: %d\n", err);
		goto unreg_tpi;
	}
	lab_dir = debugfs_create_dir("allockit_lab", NULL);
	debugfs_create_file("run", 0600, lab_dir, NULL, &run_fops);
	debugfs_create_file("info", 0400, lab_dir, NULL, &info_fops);
	debugfs_create_file("busy", 0400, lab_dir, NULL, &busy_fops);
	return 0;

unreg_tpi:
	unregister_kretprobe(&tpi_probe);
unreg_acr:
	unregister_kretprobe(&acr_probe);
free_bitmap:
	bitmap_free(busy_seen);
	return err;
}

static void __exit lab_exit(void)
{
	debugfs_remove_recursive(lab_dir);
	unregister_kretprobe(&sip_probe);
	unregister_kretprobe(&tpi_probe);
	unregister_kretprobe(&acr_probe);
	bitmap_free(busy_seen);
}

module_init(lab_init);
module_exit(lab_exit);
