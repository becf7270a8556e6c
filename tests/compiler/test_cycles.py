"""The cycle finder of the check pass: exact cycles, deep graphs, agreement with networkx."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_mux.compiler.checked import Dependency
from llm_mux.compiler.diagnostics import Location
from llm_mux.compiler.passes.check import find_cycles

AT = Location("w.toml", 1, 1)
Graph = Mapping[str, Sequence[Dependency]]


def graph(pairs: Sequence[tuple[str, str]], names: Sequence[str]) -> Graph:
    """`(a, b)` means step a depends on step b."""
    edges: dict[str, list[Dependency]] = {name: [] for name in names}
    for owner, target in pairs:
        edges[owner].append(Dependency(target, AT, inferred=False))
    return edges


def as_names(cycle: Sequence[tuple[str, Dependency]]) -> list[str]:
    return [owner for owner, _ in cycle] + [cycle[-1][1].target]


def test_no_cycle_in_a_dag() -> None:
    names = ["a", "b", "c", "d"]
    assert find_cycles(graph([("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")], names), names) == []


def test_a_three_step_cycle_is_reported_in_full_from_where_the_search_met_it() -> None:
    names = ["plan", "implement", "review"]
    edges = graph([("plan", "review"), ("implement", "plan"), ("review", "implement")], names)
    (cycle,) = find_cycles(edges, names)
    assert as_names(cycle) == ["plan", "review", "implement", "plan"]


def test_a_step_that_depends_on_itself() -> None:
    (cycle,) = find_cycles(graph([("a", "a")], ["a"]), ["a"])
    assert as_names(cycle) == ["a", "a"]


def test_a_cycle_behind_a_chain_starts_at_the_cycle_not_the_chain() -> None:
    names = ["entry", "x", "y"]
    (cycle,) = find_cycles(graph([("entry", "x"), ("x", "y"), ("y", "x")], names), names)
    assert as_names(cycle) == ["x", "y", "x"]


def test_each_cycle_edge_keeps_where_it_was_written() -> None:
    here = Location("w.toml", 7, 3)
    edges = {"a": [Dependency("b", here, inferred=True)], "b": [Dependency("a", AT, False)]}
    (cycle,) = find_cycles(edges, ["a", "b"])
    assert cycle[0] == ("a", Dependency("b", here, inferred=True))


def test_a_5000_step_chain_needs_no_recursion() -> None:
    names = [f"s{i}" for i in range(5000)]
    chain = [(names[i], names[i - 1]) for i in range(1, 5000)]
    assert find_cycles(graph(chain, names), names) == []
    (cycle,) = find_cycles(graph([*chain, (names[0], names[-1])], names), names)
    assert len(cycle) == 5000


def test_a_5000_step_chain_declared_backwards() -> None:
    names = [f"s{i}" for i in range(5000)]
    chain = [(names[i], names[i + 1]) for i in range(4999)]
    assert find_cycles(graph(chain, names), names) == []


@st.composite
def digraphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    size = draw(st.integers(1, 8))
    names = [f"s{i}" for i in range(size)]
    pair = st.tuples(st.sampled_from(names), st.sampled_from(names))
    return names, draw(st.lists(pair, max_size=size * 3, unique=True))


@settings(max_examples=300, deadline=None)
@given(digraphs())
def test_finds_a_cycle_iff_networkx_says_not_a_dag(
    drawn: tuple[list[str], list[tuple[str, str]]],
) -> None:
    names, pairs = drawn
    reference = nx.DiGraph(pairs)
    reference.add_nodes_from(names)
    cycles = find_cycles(graph(pairs, names), names)
    assert bool(cycles) == (not nx.is_directed_acyclic_graph(reference))
    for cycle in cycles:  # every report is a real closed walk along real edges
        walked = as_names(cycle)
        assert walked[0] == walked[-1]
        assert all(reference.has_edge(a, b) for a, b in pairwise(walked))
