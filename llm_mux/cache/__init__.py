"""The step cache: a step whose rendered inputs match an earlier success reuses it.

Input: a cacheable step (query or shell, `cache = true`, or `run --cache`), its
inputs rendered for this run, the plan's backends and the files its `inputs`
globs match. Output: `StepCache`, consulted by the interpreter before a step's
first attempt (per item, for for_each) and fed each success; `store` keeps
the entries in `cache.db` in the state directory; `commands` is
`llm-mux cache list | clear`.
"""

from __future__ import annotations

from .key import cache_key
from .steps import CacheMode, StepCache

__all__ = ["CacheMode", "StepCache", "cache_key"]
