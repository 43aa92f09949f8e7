"""One page of a list, the same for every list in the app."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def clamp(requested: int, total: int, page_size: int) -> int:
    """The page to show: asking past the last page shows the last one."""
    return max(1, min(requested, -(-total // page_size) or 1))
