"""Ecosystem memory: what workflows learn, kept per ecosystem in SQLite.

Input: store steps' JSON (`items` checks it, `writes` stores it in one
transaction). Output: the rows read back (`reads`), for templates as
`ecosystem.memory` (`view`) and for `llm-mux memory` (`commands`). The database
is `$XDG_CONFIG_HOME/llm-mux/memory/<ecosystem>.db` (`location`), its tables
and upsert keys are in `schema`.
"""

from __future__ import annotations

from .items import Batch, NoDocument, Skipped, parse_batch
from .location import memory_path
from .reads import read_entities, read_facts, read_relationships
from .view import MemoryView, with_memory
from .writes import Stored, store_batch

__all__ = [
    "Batch",
    "MemoryView",
    "NoDocument",
    "Skipped",
    "Stored",
    "memory_path",
    "parse_batch",
    "read_entities",
    "read_facts",
    "read_relationships",
    "store_batch",
    "with_memory",
]
