"""Dynamic query composition: filters, ordering and paging over named queries."""

from .builder import QueryBuilder

__all__ = ["QueryBuilder"]
