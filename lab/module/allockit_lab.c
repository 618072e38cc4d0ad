// SPDX-License-Identifier: GPL-2.0
/*
 * allockit_lab: the measuring side of the allockit real-kernel lab (issue 7).
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
 * /sys/kernel/debug/allockit_lab/info reads "cma=<name> base_pfn=<pfn> count=<pages>".
 * cma_alloc and friends are exported by lab/kernel/build-kernel.sh (not exported upstream).
 */
#include <linux/module.h>
#include <linux/cma.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("allockit lab: cma_alloc / alloc_pages strategies, timed");

static struct cma *lab_cma;
static struct dentry *lab_dir;
static DEFINE_MUTEX(lab_lock);
static char result[512];

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
	scnprintf(result, sizeof(result),
		  "exp=%s order=%u nr=%lu param=%s got=%lu ret=%ld latency_ns=%llu calls=%lu "
		  "max_call_ns=%llu acr_calls=%ld acr_ebusy=%ld acr_other=%ld acr_missed=%d\n",
		  exp, order, nr, param[0] ? param : "-", got, ret, lat, r.calls, r.max_call_ns,
		  atomic_long_read(&acr_calls), atomic_long_read(&acr_ebusy),
		  atomic_long_read(&acr_other), acr_probe.nmissed);
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
	err = register_kretprobe(&acr_probe);
	if (err) {
		pr_err("allockit_lab: kretprobe on alloc_contig_range: %d\n", err);
		return err;
	}
	lab_dir = debugfs_create_dir("allockit_lab", NULL);
	debugfs_create_file("run", 0600, lab_dir, NULL, &run_fops);
	debugfs_create_file("info", 0400, lab_dir, NULL, &info_fops);
	return 0;
}

static void __exit lab_exit(void)
{
	debugfs_remove_recursive(lab_dir);
	unregister_kretprobe(&acr_probe);
}

module_init(lab_init);
module_exit(lab_exit);
