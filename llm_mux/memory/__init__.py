"""Ecosystem memory: what workflows learn, kept per ecosystem in SQLite.

Input: store steps' JSON (`items` checks it, `writes` stores it in one
transaction). Output: the rows read back (`reads`), for templates as
`ecosystem.memory` (`view`) and for `llm-mux memory` (`commands`). The database
is `$XDG_CONFIG_HOME/llm-mux/memory/<ecosystem>.db` (`location`), its tables
and upsert keys are in `schema`.

Import from the module that defines a name: a run reads memory through `view` alone,
and does not pay for parsing and writing it (~10 ms at start-up).
"""
