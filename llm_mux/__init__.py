"""llm-mux."""
