"""Plan invariants over generated DAG workflows: stages respect every edge; compile is
deterministic. Dependencies are written both ways the language allows: `depends_on`, and
inferred from `steps.X` in a template (hyphenated names as `steps['x-y']`)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.compiler.diagnostics import Sink
from llm_mux.compiler.passes.config import MergedConfig
from llm_mux.compiler.pipeline import compile_workflow, load_config
from llm_mux.compiler.plan import Plan
from llm_mux.compiler.render import to_json
from llm_mux.compiler.source import SourceFile


@dataclass(frozen=True)
class Generated:
    text: str
    names: tuple[str, ...]
    edges: frozenset[tuple[str, str]]  # (dependency, dependent)


def _reference(name: str) -> str:
    return f"steps.{name}.output" if name.isidentifier() else f"steps['{name}'].output"


@st.composite
def dag_workflows(draw: st.DrawFn) -> Generated:
    size = draw(st.integers(1, 12))
    names = [f"step-{i}" if draw(st.booleans()) else f"step_{i}" for i in range(size)]
    # Step i may depend only on steps before it in this order: a DAG by construction.
    deps = {
        i: draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set() for i in range(size)
    }
    # ... but it is declared in any order: names may be used before they are declared.
    declared = draw(st.permutations(range(size)))
    blocks = []
    for i in declared:
        explicit = sorted(d for d in deps[i] if draw(st.booleans()))
        inferred = sorted(deps[i] - set(explicit))
        run = " ".join(["echo", *(f"{{{{ {_reference(names[d])} }}}}" for d in inferred)])
        block = f'[[steps]]\nname = "{names[i]}"\ntype = "shell"\nrun = "{run}"\n'
        if explicit:
            block += f"depends_on = [{', '.join(repr(names[d]) for d in explicit)}]\n"
        blocks.append(block)
    edges = frozenset((names[d], names[i]) for i in range(size) for d in deps[i])
    return Generated("\n".join(blocks), tuple(names), edges)


def compile_text(text: str) -> Plan:
    sink = Sink()
    config = load_config([], sink, {})
    assert isinstance(config, MergedConfig)
    plan = compile_workflow(SourceFile("w.toml", text), sink, config=config, env={})
    assert plan is not None, [d.render() for d in sink]
    assert not sink.items, [d.render() for d in sink]
    return plan


@settings(max_examples=100, deadline=None)
@given(dag_workflows())
def test_every_dependency_is_in_an_earlier_stage(workflow: Generated) -> None:
    plan = compile_text(workflow.text)
    stage_of = {name: index for index, stage in enumerate(plan.stages) for name in stage}
    assert sorted(stage_of) == sorted(workflow.names)  # every step exactly once
    assert sum(len(stage) for stage in plan.stages) == len(workflow.names)
    assert {(e.source, e.target) for e in plan.edges} == workflow.edges
    for step in plan.steps:
        for dependency in (*step.depends_on, *step.inferred_depends_on):
            assert stage_of[dependency] < stage_of[step.name]


@settings(max_examples=50, deadline=None)
@given(dag_workflows())
def test_stages_are_as_early_as_possible(workflow: Generated) -> None:
    plan = compile_text(workflow.text)
    stage_of = {name: index for index, stage in enumerate(plan.stages) for name in stage}
    for target, index in stage_of.items():
        before = [stage_of[s] for s, t in workflow.edges if t == target]
        assert index == (max(before) + 1 if before else 0)


@settings(max_examples=50, deadline=None)
@given(dag_workflows())
def test_compiling_twice_gives_the_same_plan(workflow: Generated) -> None:
    assert to_json(compile_text(workflow.text)) == to_json(compile_text(workflow.text))
