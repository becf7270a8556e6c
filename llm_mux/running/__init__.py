"""The run layer: one compiled plan executed, from `llm-mux run` to its recorded outcome.

`run` binds args and builds what a run shares (`runtime.Runtime`), `interpreter`
schedules the plan's steps by readiness, `context` and `rendering` are what templates
see and how they are rendered, `results` the frozen `StepResult`s steps produce,
`progress` what a person watches, `arguments` and `context_files` the command line's
args and `--context` files. Step kinds (`llm_mux.steps`), backends, the budget, the
cache and executors plug into it; the processes they start live in `llm_mux.processes`.
"""
