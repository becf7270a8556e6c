"""`llm-mux run` with shell steps: scheduling, failure, skip, retries, timeouts, for_each."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest


def workflow(tmp_path: Path, text: str, name: str = "wf.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_json(cli, tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    result = cli("--output", "json", "run", "wf.toml", *args, cwd=tmp_path)
    return result.code, json.loads(result.out)


def steps(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return document["steps"]  # type: ignore[return-value]


def test_independent_steps_overlap_and_dependents_wait(cli, tmp_path: Path) -> None:
    """Each step reports when it started and ended: a and b run at the same time (their
    spans overlap); c, which uses their outputs, starts after both ended and gets them.
    Read from the steps, not a stopwatch."""
    span = "date +%s.%N; sleep 0.4; date +%s.%N"
    workflow(
        tmp_path,
        f"""
[[steps]]
name = "a"
type = "shell"
run = "{span}"
[[steps]]
name = "b"
type = "shell"
run = "{span}"
[[steps]]
name = "c"
type = "shell"
run = "date +%s.%N; echo {{{{ steps.a.output }}}} {{{{ steps.b.output }}}}"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0 and document["success"] is True
    (a_start, a_end), (b_start, b_end) = (
        [float(t) for t in str(steps(document)[n]["output"]).split()] for n in ("a", "b")
    )
    assert a_start < b_end and b_start < a_end, "a and b should overlap"
    c_start, given = str(steps(document)["c"]["output"]).split("\n", 1)
    assert float(c_start) >= max(a_end, b_end)
    assert given == f"{steps(document)['a']['output']} {steps(document)['b']['output']}"
    assert document["output"] == steps(document)["c"]["output"]


def test_a_step_starts_when_its_own_dependencies_finish(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "quick"
type = "shell"
run = "echo quick"
[[steps]]
name = "slow"
type = "shell"
run = "sleep 0.6; date +%s.%N"
[[steps]]
name = "after_quick"
type = "shell"
run = "date +%s.%N; echo {{ steps.quick.output }} >/dev/null"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0
    after = float(steps(document)["after_quick"]["output"])  # type: ignore[arg-type]
    slow = float(steps(document)["slow"]["output"])  # type: ignore[arg-type]
    assert after < slow - 0.3, "readiness, not level-by-level: after_quick must not wait for slow"


def test_failure_cancels_running_steps_and_starts_nothing_new(cli, tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    workflow(
        tmp_path,
        f"""
[[steps]]
name = "boom"
type = "shell"
run = "echo oops >&2; exit 3"
[[steps]]
name = "long"
type = "shell"
run = "sleep 3; touch {marker}"
[[steps]]
name = "later"
type = "shell"
run = "echo {{{{ steps.long.output }}}}"
""",
    )
    started = time.perf_counter()
    code, document = run_json(cli, tmp_path)
    assert time.perf_counter() - started < 2.5
    assert code == 1 and document["status"] == "failed" and document["success"] is False
    results = steps(document)
    assert results["boom"]["status"] == "failed" and results["boom"]["exit_code"] == 3
    assert "exit code 3" in str(results["boom"]["error"]) and "oops" in str(
        results["boom"]["error"]
    )
    assert results["long"]["status"] == "cancelled"
    assert results["later"]["status"] == "pending"
    time.sleep(3.2)
    assert not marker.exists(), "the cancelled step's process group must be killed"


def test_continue_on_error_lets_dependents_see_the_failure(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "flaky"
type = "shell"
run = "exit 2"
continue_on_error = true
[[steps]]
name = "report"
type = "shell"
run = "echo failed={{ steps.flaky.failed }} status={{ steps.flaky.status }}"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0 and document["success"] is True
    assert document["output"] == "failed=True status=failed"


def test_false_condition_skips_and_dependents_see_it(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "rust-only"
type = "shell"
run = "echo clippy"
if = "team == 'rust'"
[[steps]]
name = "after"
type = "shell"
run = "echo skipped={{ steps['rust-only'].skipped }} output=[{{ steps['rust-only'].output | raw }}]"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0
    assert steps(document)["rust-only"]["status"] == "skipped"
    assert document["output"] == "skipped=True output=[]"


def test_retries_rerun_the_whole_step(cli, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    workflow(
        tmp_path,
        f"""
[[steps]]
name = "third-time"
type = "shell"
run = "echo x >> {counter}; test $(wc -l < {counter}) -ge 3 && echo lucky"
retries = 2
retry_delay = "10ms"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0
    assert steps(document)["third-time"]["attempts"] == 3
    assert document["output"] == "lucky"


def test_step_timeout_kills_the_command(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "hang"
type = "shell"
run = "sleep 10"
timeout = "300ms"
""",
    )
    started = time.perf_counter()
    code, document = run_json(cli, tmp_path)
    assert time.perf_counter() - started < 3
    assert code == 1
    assert "timed out after 0.3s" in str(steps(document)["hang"]["error"])


def test_workflow_timeout_fails_the_run(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
timeout = "300ms"
[[steps]]
name = "hang"
type = "shell"
run = "sleep 10"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 1
    assert "timed out after 0.3s" in str(document["error"])
    assert steps(document)["hang"]["status"] == "cancelled"


def test_for_each_keeps_item_order_whatever_the_concurrency(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "each"
type = "shell"
run = "sleep {{ (4 - loop.index) / 10 }}; echo {{ loop.index }}/{{ loop.length }}:{{ item }}"
for_each = "['a', 'b', 'c']"
concurrency = 3
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0
    each = steps(document)["each"]
    assert each["outputs"] == ["1/3:a", "2/3:b", "3/3:c"]
    assert [item["status"] for item in each["items"]] == ["succeeded"] * 3  # type: ignore[union-attr]
    assert document["output"] == "1/3:a\n2/3:b\n3/3:c"


def test_for_each_over_text_json_and_zero_items(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "list"
type = "shell"
run = "printf 'one\\ntwo\\n\\nthree\\n'"
[[steps]]
name = "lines"
type = "shell"
run = "echo {{ item | upper }}"
for_each = "steps.list.output | lines"
[[steps]]
name = "json"
type = "shell"
run = "echo '[1, 2]'"
[[steps]]
name = "numbers"
type = "shell"
run = "echo {{ item * 10 }}"
for_each = "steps.json.output"
[[steps]]
name = "none"
type = "shell"
run = "echo never"
for_each = "[]"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0, document["error"]
    results = steps(document)
    assert results["lines"]["outputs"] == ["ONE", "TWO", "THREE"]
    assert results["numbers"]["outputs"] == ["10", "20"]
    assert results["none"]["status"] == "succeeded" and results["none"]["items"] == []


def test_for_each_over_plain_text_fails_with_a_hint(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "list"
type = "shell"
run = "echo a b"
[[steps]]
name = "each"
type = "shell"
run = "echo {{ item }}"
for_each = "steps.list.output"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 1
    assert "add | lines" in str(steps(document)["each"]["error"])


def test_condition_is_evaluated_per_item(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "each"
type = "shell"
run = "echo {{ item }}"
for_each = "[1, 2, 3, 4]"
if = "item != 2"
""",
    )
    code, document = run_json(cli, tmp_path)
    assert code == 0
    items = steps(document)["each"]["items"]
    assert [i["status"] for i in items] == ["succeeded", "skipped", "succeeded", "succeeded"]  # type: ignore[union-attr]
    assert document["output"] == "1\n3\n4"


@pytest.mark.parametrize(
    "payload", ["$(touch pwned)", "'; touch pwned; '", "`touch pwned`", '"; touch pwned; "']
)
def test_interpolated_values_never_execute(cli, tmp_path: Path, payload: str) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "echo"
type = "shell"
run = "echo {{ args.text }} && echo {{ args.text | shell_escape }}"
""",
    )
    code, document = run_json(cli, tmp_path, f"text={payload}")
    assert code == 0
    assert not (tmp_path / "pwned").exists()
    assert document["output"] == f"{payload}\n{payload}"


def test_raw_opts_out_of_quoting(cli, tmp_path: Path) -> None:
    workflow(
        tmp_path,
        """
[[steps]]
name = "raw"
type = "shell"
run = "{{ args.command | raw }}"
""",
    )
    code, document = run_json(cli, tmp_path, "command=echo one; echo two")
    assert code == 0 and document["output"] == "one\ntwo"


def test_final_output_is_the_last_leaf_or_the_named_step(cli, tmp_path: Path) -> None:
    text = """
[[steps]]
name = "first"
type = "shell"
run = "echo first"
[[steps]]
name = "second"
type = "shell"
run = "echo second"
[[steps]]
name = "uses_first"
type = "shell"
run = "echo {{ steps.first.output }}-derived"
"""
    workflow(tmp_path, text)
    assert run_json(cli, tmp_path)[1]["output"] == "first-derived"
    workflow(tmp_path, 'output = "second"\n' + text)
    assert run_json(cli, tmp_path)[1]["output"] == "second"


def test_json_document_shape(cli, tmp_path: Path) -> None:
    workflow(tmp_path, '[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo hi"\n')
    code, document = run_json(cli, tmp_path, "x=1")
    assert code == 0
    assert set(document) >= {
        "run_id",
        "workflow",
        "status",
        "success",
        "duration_ms",
        "args",
        "output",
        "usage",
        "cost",
        "steps",
    }
    assert document["workflow"] == "wf" and document["args"] == {"x": "1"}
    step = steps(document)["a"]
    assert set(step) >= {
        "type",
        "status",
        "output",
        "outputs",
        "failed",
        "skipped",
        "error",
        "duration_ms",
        "backend",
        "backends",
        "errors",
        "json",
        "exit_code",
        "items",
        "usage",
        "cost",
    }
    assert step["type"] == "shell" and step["exit_code"] == 0


def test_console_and_quiet_output(cli, tmp_path: Path) -> None:
    workflow(tmp_path, '[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo hi"\n')
    console = cli("run", "wf.toml", cwd=tmp_path)
    assert console.code == 0 and console.out == "hi\n"
    assert "→ a [shell]" in console.err and "✓ a" in console.err and "run succeeded" in console.err
    quiet = cli("run", "wf.toml", "--output", "quiet", cwd=tmp_path)
    assert quiet.out == "hi\n" and quiet.err == ""


def test_output_file_and_dry_run(cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    workflow(tmp_path, f'[[steps]]\nname = "a"\ntype = "shell"\nrun = "touch {marker}; echo hi"\n')
    dry = cli("run", "wf.toml", "--dry-run", cwd=tmp_path)
    assert dry.code == 0 and not marker.exists()
    assert "stage 1: a" in dry.out and "nothing was executed" in dry.out
    target = tmp_path / "out.txt"
    result = cli("run", "wf.toml", "--output-file", str(target), cwd=tmp_path)
    assert result.code == 0 and target.read_text() == "hi\n"


def test_output_file_in_a_directory_that_does_not_exist_yet(cli, tmp_path: Path) -> None:
    workflow(tmp_path, '[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo hi"\n')
    target = tmp_path / "new" / "deeper" / "out.txt"
    for command in (["run", "wf.toml"], ["validate", "wf.toml"]):
        result = cli(*command, "--output-file", str(target), cwd=tmp_path)
        assert result.code == 0, result.err
        assert "internal error" not in result.err and target.read_text() == result.out


def test_output_file_that_cannot_be_written_is_refused_before_the_run(cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    workflow(tmp_path, f'[[steps]]\nname = "a"\ntype = "shell"\nrun = "touch {marker}"\n')
    (tmp_path / "plain").write_text("a file, not a directory")
    result = cli(
        "run", "wf.toml", "--output-file", str(tmp_path / "plain" / "out.txt"), cwd=tmp_path
    )
    assert result.code == 2 and "--output-file: cannot create" in result.err, result.err
    assert "internal error" not in result.err and not marker.exists()
