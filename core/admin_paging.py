"""Admin lists that hold at a million rows (docs/PERFORMANCE.md, "Admin lists").

Django's changelist counts every matching row (``COUNT(*)``) for its paginator and once more for
the "N total" line, and pages with ``OFFSET``. Here an unfiltered list takes PostgreSQL's
estimate of the table size (``pg_class.reltuples``, refreshed by autovacuum) for its note, and
every list counts at most ``ADMIN_LIST_MAX_ROWS + 1`` rows (an index-only scan that stops
there); pages stop after that many rows, so the deepest ``OFFSET`` is bounded too. Narrow the
list with its filters or search to reach older rows.
"""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


def prefix_range(field: str, prefix: str) -> dict:
    """An index-backed ``startswith`` on a plain B-tree: a range from the prefix to the prefix with
    its last character incremented (code-point order, the database's C.UTF-8 collation); callers
    add ``startswith`` too so another collation can only lose rows, never add any."""
    return {f"{field}__gte": prefix, f"{field}__lt": prefix[:-1] + chr(ord(prefix[-1]) + 1),
            f"{field}__startswith": prefix}


def max_rows() -> int:
    return getattr(settings, "ADMIN_LIST_MAX_ROWS", 10_000)


def estimated_rows(model, using: str = "default") -> int:
    """The planner's row estimate of the model's table (no scan); -1 when never analysed."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row else -1


class CappedPaginator(Paginator):
    """Counts at most ``max_rows()`` (+1 to know there are more); ``estimate`` is the table's size
    when the list is unfiltered, else None. ``capped`` says the list goes on past the last page."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        cap = max_rows()
        if not queryset.query.where:  # the "about N" of the note; the same two queries at any size
            self.estimate = estimated_rows(queryset.model, queryset.db)
        found = queryset.order_by()[: cap + 1].count()
        self.capped = found > cap
        return min(found, cap)

    estimate: int | None = None
    capped: bool = False


class MillionRowListMixin:
    """For a ModelAdmin whose table grows without bound: capped counts, no full count, no date
    hierarchy (it sorts every row on each view), and a note when the list goes on."""

    paginator = CappedPaginator
    show_full_result_count = False
    date_hierarchy = None
    list_per_page = 100

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        request._capped_paginator = paginator
        return paginator

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        paginator = getattr(request, "_capped_paginator", None)
        if paginator is not None and paginator.capped and hasattr(response, "context_data"):
            from django.contrib import messages

            total = f" of about {paginator.estimate:,}" if paginator.estimate and paginator.estimate > 0 else ""
            messages.info(request, f"Showing the first {max_rows():,}{total} matching rows; filter or search to "
                                   "reach the others.")
        return response
