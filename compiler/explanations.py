"""What each diagnostic code means, a workflow that fails with it, and how to fix it.

Input: a code of `CODES`. Output: an `Explanation` (a failing example and the fix), the
diagnostics the compiler really reports for that example — checked live, against the
small config in `EXAMPLE_CONFIG`, so a message shown here cannot drift from the real
one — and the same entry as Markdown, for `llm-mux validate --explain CODE` and for the
documentation page `docs/diagnostics.md`, which is generated from `page()`.

Adding a code to `CODES` means adding its entry to `EXPLANATIONS` too (a test says so,
and what to write), then regenerating the page: `UPDATE_DOCS=1 pytest tests/docs`.
"""

from __future__ import annotations

import msgspec

from .diagnostics import CODES, Diagnostic, Sink
from .pipeline import check_workflow, decode_text, finish, load_config
from .source import SourceFile

__all__ = [
    "EXAMPLE_CONFIG",
    "EXPLANATIONS",
    "Explanation",
    "diagnose",
    "entry",
    "explain",
    "page",
]


class Explanation(msgspec.Struct, frozen=True):
    example: str  # a workflow that makes the compiler report the code
    fix: str  # what to change, in a sentence or two
    encoding: str = "utf-8"  # E002's example is bytes that are not UTF-8


# The config every example is checked against, as if it were the user's config.
EXAMPLE_CONFIG = """\
[backends.claude]
command = "claude"
args = ["-p"]

[backends.ollama]
command = "ollama"
args = ["run", "llama3"]

[roles.default]
backends = ["claude", "ollama"]
execution = "fallback"
"""

EXAMPLE_PATH = "example.toml"

EXPLANATIONS: dict[str, Explanation] = {
    "E001": Explanation(
        example='name = "summarize"\n\n[[steps]]\nname = "ask"\ntype = "query"\n'
        'prompt = "Summarize the changes\nin this diff."\n',
        fix="Write valid TOML; the message says what the parser expected where. Text that "
        'spans lines goes between triple quotes `"""` … `"""`.',
    ),
    "E002": Explanation(
        example='name = "café"\n',
        encoding="latin-1",
        fix="Save the file as UTF-8 (and make sure it is readable by you).",
    ),
    "E101": Explanation(
        example='[[steps]]\nname = "lint"\ntype = "shell"\nrun = "cargo clippy"\ntimout = 600\n',
        fix="Remove the key, or correct its spelling (the hint names the closest known key). "
        "The keys of each table are listed in Configuration and Workflows.",
    ),
    "E102": Explanation(
        example='[[steps]]\nname = "tests"\ntype = "shell"\nrun = "npm test"\nretries = true\n',
        fix="Give the key a value of the type the message names (a number, a string, a "
        "list, a table…).",
    ),
    "E103": Explanation(
        example='[[steps]]\nname = "diff"\ntype = "shell"\n',
        fix="Add the missing key; the message names it and the table it belongs in.",
    ),
    "E104": Explanation(
        example='[roles.reviewers]\nbackends = ["claude", "ollama"]\nexecution = "paralel"\n\n'
        '[[steps]]\nname = "review"\ntype = "query"\nrole = "reviewers"\n'
        'prompt = "Review the staged changes."\n',
        fix="Use one of the values the message lists.",
    ),
    "E105": Explanation(
        example='[[steps]]\nname = "clippy"\ntype = "shell"\nrun = "cargo clippy"\n'
        "if = \"team == 'rust'\"\nwhen = \"team == 'rust'\"\n",
        fix="Keep one of the two keys: `when` is another name for `if`.",
    ),
    "E201": Explanation(
        example='[[steps]]\nname = "run tests"\ntype = "shell"\nrun = "pytest -q"\n',
        fix="Name steps with letters, digits, `_` and `-`, starting with a letter or `_` "
        "(`run-tests`).",
    ),
    "E202": Explanation(
        example='[[steps]]\nname = "build"\ntype = "shell"\nrun = "cargo build"\n\n'
        '[[steps]]\nname = "build"\ntype = "shell"\nrun = "cargo doc --no-deps"\n',
        fix="Give each step its own name (`build-docs`).",
    ),
    "E203": Explanation(
        example='[[steps]]\nname = "build"\ntype = "shell"\nrun = "cargo build"\n\n'
        '[[steps]]\nname = "test"\ntype = "shell"\nrun = "cargo test"\ndepends_on = ["biuld"]\n',
        fix="Name a step that exists in `depends_on` (the hint names the closest).",
    ),
    "E204": Explanation(
        example='[[steps]]\nname = "plan"\ntype = "shell"\nrun = "echo {{ steps.review.output }}"'
        '\n\n[[steps]]\nname = "review"\ntype = "shell"\nrun = "echo {{ steps.plan.output }}"\n',
        fix="Break the cycle the message prints: one of the steps must not need the other "
        "(a step mentioning `steps.X` depends on X, as if `depends_on` listed it).",
    ),
    "E205": Explanation(
        example='output = "reprot"\n\n[[steps]]\nname = "report"\ntype = "shell"\n'
        'run = "echo done"\n',
        fix="Make the workflow's `output` name one of its steps.",
    ),
    "E301": Explanation(
        example='[[steps]]\nname = "list"\ntype = "shell"\n'
        'run = "{% for f in [1, 2] %}echo {{ f }}; {% endfo %}"\n',
        fix="Correct the Jinja syntax at the column shown (a closing tag, a brace, a quote).",
    ),
    "E302": Explanation(
        example='[[steps]]\nname = "rust-only"\ntype = "shell"\nrun = "test -f Cargo.toml"\n'
        'continue_on_error = true\n\n[[steps]]\nname = "fallback"\ntype = "shell"\n'
        'run = "make test"\nif = "steps.rust-only.failed"\n',
        fix="Correct the expression at the column shown. A hyphenated step is written "
        "`steps['rust-only']`.",
    ),
    "E303": Explanation(
        example='[[steps]]\nname = "diff"\ntype = "shell"\nrun = "git diff HEAD"\n\n'
        '[[steps]]\nname = "summary"\ntype = "query"\n'
        'prompt = "Summarize: {{ steps.dif.output }}"\n',
        fix="Refer to a step that exists (the hint names the closest), or add the step.",
    ),
    "E304": Explanation(
        example='[args.base]\ndefault = "main"\n\n[[steps]]\nname = "diff"\ntype = "shell"\n'
        'run = "git diff {{ args.branch }}"\n',
        fix="Use an arg the workflow declares under `[args]`, or declare this one.",
    ),
    "E305": Explanation(
        example='[[steps]]\nname = "lint"\ntype = "shell"\nrun = "ruff check {{ item }}"\n'
        "for_each = \"'a.py b.py' | splitlines\"\n",
        fix="Use a filter or test that exists (`lines`, not `splitlines`); Workflows lists "
        "the filters.",
    ),
    "E306": Explanation(
        example='[[steps]]\nname = "label"\ntype = "shell"\n'
        'run = "gh issue edit --add-label {{ item }}"\n',
        fix="Use a name that is defined where it is used: `args`, `steps`, `env`, `team`, "
        "`project`, `ecosystem`, and `item`/`loop` only in a for_each step.",
    ),
    "E307": Explanation(
        example='[[steps]]\nname = "x"\ntype = "shell"\nrun = "echo 1"\n\n'
        '[[steps]]\nname = "y"\ntype = "shell"\nrun = "echo {{ steps.x.outptu }}"\n',
        fix="Use a field a step result has (`output`, `outputs`, `status`, `failed`, "
        "`skipped`, `error`, …; the hint names the closest).",
    ),
    "E401": Explanation(
        example='[[steps]]\nname = "analyze"\ntype = "query"\nrole = "defualt"\n'
        'prompt = "Find bugs in src/."\n',
        fix="Use a role defined in the config (`llm-mux roles` lists them), or define it "
        "under `[roles.NAME]` in the config or the workflow.",
    ),
    "E402": Explanation(
        example='[[steps]]\nname = "summary"\ntype = "query"\nbackend = "gpt4"\n'
        'prompt = "Summarize the changes."\n',
        fix="Use a backend defined in the config (`llm-mux backends` lists them), or define "
        "it under `[backends.NAME]`.",
    ),
    "E501": Explanation(
        example='[[steps]]\nname = "tests"\ntype = "shell"\nrun = "make integration"\n'
        'timeout = "10 min"\n',
        fix='Write seconds (`600`) or a number with a unit: `"500ms"`, `"90s"`, `"10m"`, `"1h"`.',
    ),
    "W502": Explanation(
        example='[[steps]]\nname = "tests"\ntype = "shell"\nrun = "make test"\ntimeout = 30000\n',
        fix='Timeouts are seconds: write `30` or `"30s"`. A file written for the Rust '
        "llm-mux (which counted milliseconds) is rewritten by `llm-mux migrate FILE`. A "
        "timeout really that long can be silenced with `# llm-mux: ignore[W502]` on its line.",
    ),
    "W403": Explanation(
        example='[backends.gemini]\ncommand = "gemini"\n'
        'args = ["-m", "gemini-2.5-pro", "-p"]\n\n[[steps]]\nname = "ask"\ntype = "query"\n'
        'backend = "gemini"\nprompt = "- is this a list?"\n',
        fix='Let llm-mux pass the prompt safely: `prompt_mode = "flag"` with '
        '`prompt_flag = "--prompt"` for an option that takes it (Gemini CLI), the default '
        '`prompt_mode = "arg"` (the prompt after `--`) or `prompt_mode = "stdin"`. '
        "See docs/backends.md.",
    ),
    "W602": Explanation(
        example='[[steps]]\nname = "fix"\ntype = "query"\n'
        'prompt = "Fix the failing test. Answer with a unified diff."\n\n'
        '[[steps]]\nname = "apply-fix"\ntype = "apply"\nsource = "fix"\n',
        fix='Add `verify = "your test command"` (or `verify = true` for the team\'s), so '
        "edits that break something are rolled back.",
    ),
    "E603": Explanation(
        example='[[steps]]\nname = "shards"\ntype = "shell"\nfor_each = "42"\n'
        'run = "pytest --shard {{ item }}"\n',
        fix="Give `for_each` a list (`[1, 2, 3]`), a step's output (`steps.x.output | "
        "lines`) or an arg.",
    ),
    "W604": Explanation(
        example='[[steps]]\nname = "suggest"\ntype = "query"\n'
        'prompt = "Suggest a command that cleans this repository."\n\n'
        '[[steps]]\nname = "clean"\ntype = "shell"\nrun = "{{ steps.suggest.output | raw }}"\n',
        fix="Drop `| raw`, so the model's answer is one quoted argument, not code; if "
        "running it is really meant, review it first (an input step).",
    ),
    "E605": Explanation(
        example='[args.message]\nrequired = true\n\n[[steps]]\nname = "commit"\ntype = "shell"\n'
        "run = 'git commit -m \"`echo {{ args.message }}`\"'\n",
        fix="Values are made inert wherever else they land (as a word, inside quotes, in a "
        "here-document or a comment): use `$( … )` instead of backticks, set a variable "
        "before `${…}`, drop `$'…'` and a `$` or `\\` right before `{{`, and write a "
        "here-document's delimiter out.",
    ),
    "E610": Explanation(
        example='[[steps]]\nname = "fix"\ntype = "query"\n'
        'prompt = "Fix the failing test. Answer with a unified diff."\n\n'
        '[[steps]]\nname = "apply"\ntype = "apply"\nsource = "fix"\nverify = "make test"\n'
        "max_parallel = 2\n",
        fix='Add `candidates = "each"` to try each backend\'s answer in its own worktree '
        "(see docs/best-of-n.md), or remove the key: an apply step without it applies the "
        "source's whole answer once.",
    ),
    "E611": Explanation(
        example='[[steps]]\nname = "patch"\ntype = "shell"\nrun = "cat fix.diff"\n\n'
        '[[steps]]\nname = "apply"\ntype = "apply"\nsource = "patch"\nverify = "make test"\n'
        'candidates = "each"\n',
        fix="Take the edits from a query step (best with a role whose backends run in "
        'parallel): only a query has one answer per backend. Or drop `candidates = "each"`.',
    ),
    "E612": Explanation(
        example='[[steps]]\nname = "fix"\ntype = "query"\n'
        'prompt = "Fix the failing test. Answer with a unified diff."\n\n'
        '[[steps]]\nname = "apply"\ntype = "apply"\nsource = "fix"\nverify = "make test"\n'
        'candidates = "each"\nselect = "best"\n',
        fix='Add `metric = "…"`, a command printing a number (say, the count of passing '
        'tests) on its last line, or take the first candidate to pass with `select = "first"`.',
    ),
    "W701": Explanation(
        example='[backends.staging]\ncommand = "https://llm.example.com/v1"\nmodel = "m"\n'
        'api_key = "${STAGING_API_KEY}"\n\n[[steps]]\nname = "ask"\ntype = "query"\n'
        'backend = "staging"\nprompt = "Say hello."\n',
        fix="Set the variable in the environment llm-mux runs in (the backend is "
        "unavailable without it), or write the value another way.",
    ),
    "W801": Explanation(
        example='max_cost = 2.50\n\n[[steps]]\nname = "review"\ntype = "query"\n'
        'backend = "claude"\nprompt = "Review the staged changes."\n',
        fix="Give the backend `input_cost_per_million` and `output_cost_per_million` (and use "
        "one that reports token usage), or set `allow_unknown_cost = true` to let its calls "
        "run uncounted. Otherwise each call to it is refused at run time.",
    ),
    "W802": Explanation(
        example='[[steps]]\nname = "review"\ntype = "query"\nbackend = "claude"\n'
        'cache = true\nprompt = "Review the code in src/."\n',
        fix='Declare the files the agent reads, `inputs = ["src/**/*.py"]`, so that a change '
        "to one of them is a cache miss; or do not cache the step.",
    ),
}


def diagnose(code: str) -> list[Diagnostic]:
    """What the compiler reports for the code's example, checked with `EXAMPLE_CONFIG`."""
    explanation = EXPLANATIONS[code]
    sink = Sink()
    user = SourceFile("config.toml", EXAMPLE_CONFIG)
    config = load_config([user], sink, env={})
    data = explanation.example.encode(explanation.encoding)
    source = decode_text(EXAMPLE_PATH, data, sink)
    sources = [user]
    if source is not None:
        sources.append(source)
        check_workflow(source, sink, config=config, env={})
    return finish(sink, sources)


def entry(code: str) -> str:
    """One code as Markdown, for the page: meaning, example, what validate says, the fix."""
    explanation = EXPLANATIONS[code]
    return (
        f"## {code}\n\n{CODES[code][0].upper()}{CODES[code][1:]} ({_kind(code)}).\n\n"
        f"```toml\n# {EXAMPLE_PATH}\n{_example_text(explanation)}```\n\n"
        f"```console\n$ llm-mux validate {EXAMPLE_PATH}\n{_said(code)}\n```\n\n"
        f"**Fix:** {explanation.fix}\n"
    )


def explain(code: str) -> str:
    """One code as plain text, for `llm-mux validate --explain CODE`: the page's entry."""
    explanation = EXPLANATIONS[code]
    example = _indent(_example_text(explanation))
    said = _indent(f"$ llm-mux validate {EXAMPLE_PATH}\n{_said(code)}\n")
    return (
        f"{code}: {CODES[code]} ({_kind(code)})\n\nExample ({EXAMPLE_PATH}):\n{example}\n"
        f"{said}\nFix: {explanation.fix}\n"
    )


def _kind(code: str) -> str:
    return "error" if code.startswith("E") else "warning"


def _said(code: str) -> str:
    return "\n".join(d.render() for d in diagnose(code))


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def _example_text(explanation: Explanation) -> str:
    if explanation.encoding == "utf-8":
        return explanation.example
    return f"# (saved as {explanation.encoding}, not UTF-8)\n{explanation.example}"


def page() -> str:
    """The whole diagnostics page, every code in order."""
    intro = (
        "# Diagnostics\n\n"
        "`llm-mux validate` reports each problem as `path:line:col: severity: message "
        "[CODE]`. Codes are stable: `# llm-mux: ignore[CODE]` on a line silences one there, "
        "and `llm-mux validate --explain CODE` prints its entry below. Errors (E) stop "
        "`run`; warnings (W) fail `validate` only with `--strict`.\n\n"
        "Each example below is checked, when this page is generated, against a user config "
        "holding:\n\n"
        f"```toml\n{EXAMPLE_CONFIG}```\n\n"
        "and the messages shown are what llm-mux printed for it.\n\n"
        "<!-- Generated from compiler/explanations.py: edit that file, then run\n"
        "     UPDATE_DOCS=1 python -m pytest tests/docs  -->\n\n"
    )
    return intro + "\n".join(entry(code) for code in sorted(CODES, key=_order))


def _order(code: str) -> tuple[int, str]:
    return (int(code[1:]), code)
