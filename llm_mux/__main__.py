"""`python -m llm_mux`: the same as the `llm-mux` command."""

from .entry import main

main()
