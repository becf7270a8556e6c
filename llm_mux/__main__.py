"""`python -m llm_mux`: the same as the `llm-mux` command."""

from .cli import main

main()
