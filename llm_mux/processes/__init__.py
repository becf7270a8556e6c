"""The process layer: the child processes llm-mux starts, and the signals that stop a run.

`process` runs a command in a process group of its own and kills the group whole (on a
timeout, a cancel or an output cap), `spawn` starts a child and watches it from the event
loop, `reaper` finds and ends the descendants that left the child's group or session, and
`signals` turns Ctrl-C and SIGTERM into a cancelled run. Shell steps, CLI backends, verify
commands and executors go through it; nothing here knows about plans or steps.
"""
