"""Special values of ``page.owner`` (a page's owner is otherwise its background object id or
an id the allocating caller chose, both ≥ 0)."""

OWNER_NONE = -1  # free, reserved, or allocated without an owner
OWNER_FREED = -2  # freed by its owner while isolated for migration; migration frees it
OWNER_CONTIG = -3  # taken by alloc_contig_range (a CMA / contiguous allocation)
