"""Resolve pass: decoded `Workflow` → `CheckedWorkflow`.

Input: the surface workflow and its source. Output: every step with its
expressions parsed, templates analysed, names resolved and dependencies
(explicit and inferred) attached to the place they were written; durations
in seconds; args (declared, or inferred from `args.X` when none are declared);
the final output step. Reports step names, duplicates, unknown `depends_on`,
template and expression syntax, unknown names, durations, conflicting keys,
shell quoting hazards and for_each over a literal that is not a list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence

import msgspec

from ..checked import CheckedStep, CheckedWorkflow, Dependency
from ..diagnostics import Location, Sink, did_you_mean
from ..expr import Const, Expr, ExprSyntaxError, ListLit, parse_expression
from ..plan import ArgSpec
from ..references import TemplateInfo, expr_info
from ..schema import ApplyStep, QueryStep, ShellStep, Step, StoreStep, Workflow
from ..shell_context import REFUSED, Context
from ..source import KeyPath, SourceFile
from ..templates import TemplateSyntax, analyze_template
from .config import check_duration
from .scope import ArgUse, Resolution, Scope, resolve_names

__all__ = ["resolve"]

_STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Template keys per step type; the shell ones are auto-quoted commands.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "shell": ("run",),
    "query": ("prompt", "system"),
    "apply": ("verify", "verify_retry_prompt", "metric"),
    "store": ("input", "prompt"),
    "input": ("prompt",),
}
_SHELL_TEMPLATES = frozenset({"run", "verify", "metric"})
_RETRY_NAMES = frozenset({"original", "error", "edits"})


def resolve(workflow: Workflow, source: SourceFile, sink: Sink) -> CheckedWorkflow | None:
    errors_before = sink.error_count
    names = _check_names(workflow.steps, source, sink)
    declared = set(workflow.args) if workflow.args else None
    models = frozenset(s.name for s in workflow.steps if isinstance(s, QueryStep))
    base = Scope("the workflow", names, declared, model_steps=models)
    arg_uses: list[ArgUse] = []
    steps = tuple(
        _resolve_step(index, step, workflow, base, source, sink, arg_uses)
        for index, step in enumerate(workflow.steps)
    )
    args = _resolve_args(workflow, source, sink, arg_uses)
    output = _resolve_output(workflow, steps, source, sink)
    timeout = None
    if workflow.timeout is not None:
        timeout = check_duration(workflow.timeout, "s", "timeout", source.value(("timeout",)), sink)
    if sink.error_count > errors_before or output is None:
        return None
    name = workflow.name or _stem(source.path)
    return CheckedWorkflow(source, workflow, name, steps, output, args, timeout)


def _stem(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base[: -len(".toml")] if base.endswith(".toml") else base


# -- names -----------------------------------------------------------------------
def _check_names(steps: Sequence[Step], source: SourceFile, sink: Sink) -> dict[str, int]:
    """Report bad and duplicate step names; return name → first index."""
    first: dict[str, int] = {}
    for index, step in enumerate(steps):
        at = source.value(("steps", index, "name"))
        if not _STEP_NAME.fullmatch(step.name):
            sink.error(
                "E201", f"'{step.name}' is not a valid step name", at, _step_name_hint(step.name)
            )
        if step.name in first:
            earlier = source.value(("steps", first[step.name], "name")).line
            sink.error(
                "E202",
                f"step '{step.name}' is defined twice (first at line {earlier})",
                at,
                hint="give each step its own name",
            )
        else:
            first[step.name] = index
    return first


def _step_name_hint(name: str) -> str:
    rule = "start with a letter or _, then letters, digits, _ or -"
    fixed = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-")
    if fixed and not _STEP_NAME.fullmatch(fixed):
        fixed = "_" + fixed
    return f"{rule}: '{fixed}', for example" if fixed else rule


# -- one step --------------------------------------------------------------------
def _resolve_step(
    index: int,
    step: Step,
    workflow: Workflow,
    base: Scope,
    source: SourceFile,
    sink: Sink,
    arg_uses: list[ArgUse],
) -> CheckedStep:
    path: KeyPath = ("steps", index)
    names = base.step_names
    # for_each itself: no item yet
    outer = msgspec.structs.replace(base, owner=f"step '{step.name}'")
    scope = outer if step.for_each is None else msgspec.structs.replace(outer, in_loop=True)
    _check_conflicts(step, path, source, sink)
    dependencies = _explicit_dependencies(step, path, names, source, sink)
    uses = Resolution()
    condition = _expression(
        step, "if" if step.if_ is not None else "when", path, scope, source, sink, uses
    )
    for_each = _for_each(step, path, outer, source, sink, uses)
    templates = _templates(step, path, scope, source, sink, uses)
    if isinstance(step, ApplyStep):
        uses.steps.extend(_apply_source(step, path, names, source, sink))
    dependencies += tuple(Dependency(name, at, True) for name, at in uses.steps)
    arg_uses.extend(uses.args)
    _check_counts(step, path, source, sink)
    timeout = None
    if step.timeout is not None:
        timeout = check_duration(
            step.timeout, "s", "timeout", source.value(path + ("timeout",)), sink
        )
    delay = check_duration(
        step.retry_delay, "ms", "retry_delay", source.value(path + ("retry_delay",)), sink
    )
    return CheckedStep(
        index=index,
        surface=step,
        condition=condition,
        for_each=for_each,
        dependencies=dependencies,
        templates=templates,
        timeout=timeout,
        retry_delay=delay if delay is not None else 1.0,
        continue_on_error=(
            step.continue_on_error
            if step.continue_on_error is not None
            else workflow.continue_on_error
        ),
    )


def _check_conflicts(step: Step, path: KeyPath, source: SourceFile, sink: Sink) -> None:
    pairs: list[tuple[str, str]] = []
    if step.if_ is not None and step.when is not None:
        pairs.append(("if", "when"))
    if isinstance(step, QueryStep) and step.role is not None and step.backend is not None:
        pairs.append(("role", "backend"))
    if isinstance(step, StoreStep) and step.input is not None and step.prompt is not None:
        pairs.append(("input", "prompt"))
    for first, second in pairs:
        sink.error(
            "E105",
            f"step '{step.name}' has both '{first}' and '{second}'",
            source.key(path + (second,)),
            hint="keep one of them",
        )
    if isinstance(step, StoreStep) and step.input is None and step.prompt is None:
        sink.error(
            "E103",
            f"step '{step.name}' is missing the required key 'input'",
            source.key(path),
            hint='input = "{{ steps.NAME.output }}"',
        )


def _check_counts(step: Step, path: KeyPath, source: SourceFile, sink: Sink) -> None:
    minimums: list[tuple[str, int | None, int]] = [
        ("concurrency", step.concurrency, 1),
        ("retries", step.retries, 0),
        ("max_tokens", step.max_tokens, 1),
    ]
    if isinstance(step, ApplyStep):
        minimums += [("verify_retries", step.verify_retries, 0)]
        minimums += [("max_parallel", step.max_parallel, 1)]
    if isinstance(step, QueryStep):
        minimums += [
            ("schema_retries", step.schema_retries, 0),
            ("min_success", step.min_success, 1),
        ]
    for key, value, minimum in minimums:
        if value is not None and value < minimum:
            sink.error(
                "E104",
                f"'{key}' in step '{step.name}' must be {minimum} or more, not {value}",
                source.value(path + (key,)),
            )


def _explicit_dependencies(
    step: Step, path: KeyPath, names: Collection[str], source: SourceFile, sink: Sink
) -> tuple[Dependency, ...]:
    found: list[Dependency] = []
    for position, target in enumerate(step.depends_on):
        at = source.value(path + ("depends_on", position))
        if target in names:
            found.append(Dependency(target, at, False))
            continue
        suggestion = did_you_mean(target, names)
        sink.error(
            "E203",
            f"step '{step.name}' depends on '{target}', but no step has that name",
            at,
            hint=f"did you mean '{suggestion}'?" if suggestion else None,
        )
    return tuple(found)


def _apply_source(
    step: ApplyStep, path: KeyPath, names: Collection[str], source: SourceFile, sink: Sink
) -> list[tuple[str, Location]]:
    target = step.source.strip().removeprefix("steps.")
    at = source.value(path + ("source",))
    if target in names:
        return [(target, at)]
    suggestion = did_you_mean(target, names)
    sink.error(
        "E303",
        f"apply step '{step.name}' takes edits from '{target}', but no step has that name",
        at,
        hint=f"did you mean '{suggestion}'?" if suggestion else 'write source = "steps.NAME"',
    )
    return []


# -- expressions and templates ---------------------------------------------------
def _expression(
    step: Step,
    key: str,
    path: KeyPath,
    scope: Scope,
    source: SourceFile,
    sink: Sink,
    uses: Resolution,
) -> Expr | None:
    text = step.if_ if key == "if" else step.when
    if text is None:
        return None
    return _parse_and_resolve(text, path + (key,), scope, source, sink, uses)


def _parse_and_resolve(
    text: str, path: KeyPath, scope: Scope, source: SourceFile, sink: Sink, uses: Resolution
) -> Expr | None:
    try:
        expr = parse_expression(text)
    except ExprSyntaxError as error:
        sink.error(
            "E302",
            f"invalid expression: {error.message}",
            source.in_string(path, error.offset),
            hint=error.hint,
        )
        return None
    _resolve_into(uses, expr_info(expr, text), scope, path, source, sink)
    return expr


def _resolve_into(
    uses: Resolution,
    info: TemplateInfo,
    scope: Scope,
    path: KeyPath,
    source: SourceFile,
    sink: Sink,
) -> None:
    """Resolve the names of a template or expression at `path`; add what it uses."""
    found = resolve_names(info, scope, lambda o: source.in_string(path, o), sink)
    uses.steps.extend(found.steps)
    uses.args.extend(found.args)


def _for_each(
    step: Step, path: KeyPath, scope: Scope, source: SourceFile, sink: Sink, uses: Resolution
) -> Expr | None:
    value = step.for_each
    if value is None:
        return None
    if isinstance(value, list):
        return ListLit(items=tuple(Const(value=v, start=0, end=0) for v in value), start=0, end=0)
    expr = _parse_and_resolve(value, path + ("for_each",), scope, source, sink, uses)
    if isinstance(expr, Const) and not _is_json_array(expr.value):
        sink.error(
            "E603",
            f"for_each in step '{step.name}' is {_literal(expr.value)}, which is not a list",
            source.value(path + ("for_each",)),
            hint='for_each needs a list: ["a", "b"], a JSON array, or text | lines',
        )
    return expr


def _literal(value: object) -> str:
    """A constant as the expression language spells it: none, true, 42, "text"."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value)


def _is_json_array(value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if text.startswith("```"):
        text = text.strip("`").partition("\n")[2]
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def _templates(
    step: Step, path: KeyPath, scope: Scope, source: SourceFile, sink: Sink, uses: Resolution
) -> tuple[tuple[str, TemplateInfo], ...]:
    found: list[tuple[str, TemplateInfo]] = []
    for key in _TEMPLATES[step.__struct_config__.tag]:  # type: ignore[index]
        text = getattr(step, key)
        if not isinstance(text, str):
            continue
        extra = _RETRY_NAMES if key == "verify_retry_prompt" else frozenset()
        key_scope = scope if extra == scope.extra else msgspec.structs.replace(scope, extra=extra)
        info = _template(text, path + (key,), key_scope, source, sink, uses)
        if info is None:
            continue
        found.append((key, info))
        if key in _SHELL_TEMPLATES and isinstance(step, ShellStep | ApplyStep):
            _check_quoting(step.name, info, path + (key,), source, sink)
            _check_raw_model_output(step.name, info, path + (key,), scope, source, sink)
    return tuple(found)


def _template(
    text: str, path: KeyPath, scope: Scope, source: SourceFile, sink: Sink, uses: Resolution
) -> TemplateInfo | None:
    try:
        info = analyze_template(text)
    except TemplateSyntax as error:
        message, column, hint = _jinja_error(error.message, _line(text, error.line))
        offset = _line_offset(text, error.line) + column
        sink.error(
            "E301", f"template syntax error: {message}", source.in_string(path, offset), hint
        )
        return None
    _resolve_into(uses, info, scope, path, source, sink)
    return info


_UNKNOWN_TAG = re.compile(r"Encountered unknown tag '(\w+)'")
_OPEN_BLOCK = re.compile(r"The innermost block that needs to be closed is '(\w+)'")
_EXPECTED_TAGS = re.compile(r"looking for the following tags: (.*?)\.")
_JINJA_TAGS = ("for", "if", "elif", "else", "set", "macro", "call", "filter", "with", "raw")


def _jinja_error(message: str, line: str) -> tuple[str, int, str | None]:
    """Jinja's message as (sentence, column in `line`, hint): one problem, one fix."""
    opened = _OPEN_BLOCK.search(message)
    unknown = _UNKNOWN_TAG.match(message)
    if unknown:
        tag = unknown.group(1)
        expected = _EXPECTED_TAGS.search(message)
        choices = re.findall(r"'(\w+)'", expected.group(1)) if expected else []
        choices += [*_JINJA_TAGS, *(f"end{t}" for t in _JINJA_TAGS)]
        suggestion = did_you_mean(tag, choices)
        hint = f"did you mean {{% {suggestion} %}}?" if suggestion else None
        at = re.search(r"\{%-?\s*" + tag + r"\b", line)
        return f"unknown tag '{tag}'", at.start() if at else _indent(line), hint
    if message.startswith("Unexpected end of template") and opened:
        block = opened.group(1)
        return (
            f"the template ends inside a {{% {block} %}} block",
            _indent(line),
            f"close it with {{% end{block} %}}",
        )
    first = message.rstrip(".")
    return first[:1].lower() + first[1:], _indent(line), None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(max(line - 1, 0)):
        newline = text.find("\n", offset)
        if newline < 0:
            break
        offset = newline + 1
    return offset


def _check_raw_model_output(
    name: str, info: TemplateInfo, path: KeyPath, scope: Scope, source: SourceFile, sink: Sink
) -> None:
    """Model output is untrusted data: `| raw` hands it to the shell as code."""
    for ref in info.raw_refs:
        if ref.root == "steps" and ref.path and ref.path[0] in scope.model_steps:
            sink.warning(
                "W604",
                f"step '{name}' runs the output of query step '{ref.path[0]}' as shell code "
                "(| raw)",
                source.in_string(path, ref.offset),
                hint="drop | raw so the text is passed as one quoted argument, "
                "or check it in a step of its own first",
            )


def _check_quoting(
    name: str, info: TemplateInfo, path: KeyPath, source: SourceFile, sink: Sink
) -> None:
    """Values where no quoting can make them inert (every other position is made safe)."""
    for offset, context in info.shell_refusals:
        what, fix = REFUSED[Context(context)]
        sink.error(
            "E605",
            f"step '{name}' puts a template value {what}, where it cannot be made safe",
            source.in_string(path, offset),
            hint=fix,
        )


# -- args and output -------------------------------------------------------------
def _resolve_args(
    workflow: Workflow, source: SourceFile, sink: Sink, uses: Sequence[ArgUse]
) -> tuple[ArgSpec, ...]:
    if not workflow.args:
        guarded: dict[str, bool] = {}
        for use in uses:
            guarded[use.name] = guarded.get(use.name, True) and use.guarded
        return tuple(ArgSpec(name=n, required=not g, declared=False) for n, g in guarded.items())
    specs = []
    for name, arg in workflow.args.items():
        path: KeyPath = ("args", name)
        if isinstance(arg.default, str) and ("{{" in arg.default or "{%" in arg.default):
            scope = Scope(f"arg '{name}'", (), set(workflow.args), only=frozenset({"args", "env"}))
            _template(arg.default, path + ("default",), scope, source, sink, Resolution())
        if arg.choices is not None and arg.default is not None and arg.default not in arg.choices:
            sink.error(
                "E104",
                f"the default of arg '{name}' is not one of its choices",
                source.value(path + ("default",)),
            )
        specs.append(
            ArgSpec(
                name=name,
                required=arg.required,
                default=arg.default,
                description=arg.description,
                choices=tuple(arg.choices) if arg.choices is not None else None,
            )
        )
    return tuple(specs)


def _resolve_output(
    workflow: Workflow, steps: Sequence[CheckedStep], source: SourceFile, sink: Sink
) -> str | None:
    names = [s.name for s in steps]
    if workflow.output is not None:
        if workflow.output in names:
            return workflow.output
        suggestion = did_you_mean(workflow.output, names)
        sink.error(
            "E205",
            f"output names step '{workflow.output}', which does not exist",
            source.value(("output",)),
            hint=f"did you mean '{suggestion}'?" if suggestion else None,
        )
        return None
    if not steps:
        sink.error(
            "E103", "the workflow has no steps", source.location(0), hint="add a [[steps]] table"
        )
        return None
    needed = {d.target for s in steps for d in s.dependencies}
    leaves = [s.name for s in steps if s.name not in needed]
    return leaves[-1] if leaves else steps[-1].name
