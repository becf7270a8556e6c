"""Estimates before spending: `plan` and `run --dry-run` bound what a workflow may cost.

One call's bound is the prompt's UTF-8 bytes + 16 (framing) tokens at the input price,
plus the backend's `max_tokens` at the output price; nothing is sent anywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CONFIG = """
[backends.m0]
command = "http://127.0.0.1:9/v1"
model = "m0"
max_tokens = 500
input_cost_per_million = 3
output_cost_per_million = 15

[backends.m1]
command = "http://127.0.0.1:9/v1"
model = "m1"
max_tokens = 100
input_cost_per_million = 1
output_cost_per_million = 2

[backends.agent]
command = "claude"

[roles.default]
backends = ["m0", "agent"]
execution = "fallback"

[roles.both]
backends = ["m0", "m1"]
execution = "parallel"
"""

WORKFLOW = """
max_cost = 0.5

[args.files]
default = "a.py\\nb.py\\nc.py"

[[steps]]
name = "each"
type = "query"
backend = "m0"
for_each = "args.files | lines"
prompt = "Summarise {{ item }}"

[[steps]]
name = "both"
type = "query"
role = "both"
prompt = "Compare"

[[steps]]
name = "join"
type = "query"
backend = "m0"
prompt = "Join {{ steps.each.output }}"

[[steps]]
name = "second"
type = "query"
prompt = "hello"
"""


def project(tmp_path: Path, workflow: str = WORKFLOW) -> None:
    (tmp_path / ".llm-mux").mkdir(exist_ok=True)
    (tmp_path / ".llm-mux" / "config.toml").write_text(CONFIG)
    (tmp_path / "wf.toml").write_text(workflow)


# each: 3 × ((14 + 16) × 3 + 500 × 15) / 1e6 = 0.02277
# both: m0 ((7 + 16) × 3 + 500 × 15) / 1e6 = 0.007569, m1 ((7 + 16) × 1 + 100 × 2) / 1e6
#       = 0.000223: 0.007792
EXPECTED = """\
estimate (upper bounds, before anything runs):
  each    3 items, 3 calls  ≤ 0.02277
  both    2 calls           ≤ 0.007792
  join    1 call            cost unknown: the prompt needs what runs before it
  second  1–2 calls         cost unknown: backend 'agent' reports no token usage
  total   7–8 calls         cost unknown (2 steps; the others ≤ 0.030562)
  budget: max_cost 0.50
"""


def test_plan_shows_what_is_known_in_advance_and_says_unknown_otherwise(
    cli, tmp_path: Path
) -> None:
    project(tmp_path)
    result = cli("plan", "wf.toml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out.endswith("\n\n" + EXPECTED)
    document = json.loads(cli("plan", "wf.toml", "--format", "json", cwd=tmp_path).out)
    estimate = document["estimate"]
    assert [s["calls_max"] for s in estimate["steps"]] == [3, 2, 1, 2]
    assert abs(estimate["steps"][0]["cost_max"] - 0.02277) < 1e-12
    assert estimate["cost_max"] is None and abs(estimate["known_cost_max"] - 0.030562) < 1e-12
    assert estimate["steps"][3]["unknown"] == "backend 'agent' reports no token usage"


def test_args_change_the_item_count(cli, tmp_path: Path) -> None:
    project(tmp_path)
    result = cli("plan", "wf.toml", "files=one.py", cwd=tmp_path)
    assert "  each    1 item, 1 call  " in result.out


def test_a_for_each_over_a_step_output_has_no_known_count(cli, tmp_path: Path) -> None:
    workflow = """
[[steps]]
name = "list"
type = "shell"
run = "ls"

[[steps]]
name = "each"
type = "query"
backend = "m1"
for_each = "steps.list.output | lines"
prompt = "About {{ item }}"
"""
    project(tmp_path, workflow)
    out = cli("plan", "wf.toml", cwd=tmp_path).out
    assert "  each   calls unknown  cost unknown: its for_each needs what runs before it" in out


def test_a_fully_known_workflow_has_a_total_within_its_budget(cli, tmp_path: Path) -> None:
    workflow = 'max_cost = 1\n\n[[steps]]\nname = "one"\ntype = "query"\nbackend = "m1"\n'
    project(tmp_path, workflow + 'prompt = "Hi"\nschema_retries = 0\n')
    out = cli("plan", "wf.toml", cwd=tmp_path).out
    # (2 + 16) × 1 + 100 × 2 = 218 tokens' worth: 0.000218
    assert "  total  1 call  ≤ 0.000218\n  budget: max_cost 1.00 (within it)\n" in out


def test_dry_run_shows_the_estimate_and_runs_nothing(cli, tmp_path: Path) -> None:
    project(tmp_path)
    result = cli("--trust", "run", "wf.toml", "--dry-run", cwd=tmp_path)
    assert result.code == 0
    assert EXPECTED in result.out and result.out.endswith("dry run: nothing was executed\n")
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "llm-mux" / "runs.db").exists()
