"""The compiler's passes, one module each, run in order by `compiler.pipeline`.

load (TOML → raw tables), decode (→ surface structs), config (layers → merged
config), resolve + scope (→ checked workflow), check (whole-workflow rules),
graph (networkx DAG → stages), lower (→ plan).
"""
