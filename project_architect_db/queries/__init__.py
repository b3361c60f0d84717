"""Dynamic query composition: filters, ordering and paging over named queries."""
