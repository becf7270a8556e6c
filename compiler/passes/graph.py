"""Graph pass: checked workflow → dependency DAG → stages and edges.

Input: a `CheckedWorkflow` the check pass found acyclic. Output: `Ordering` —
the stages (steps that can run at once, each in declaration order) and the
edges, explicit or inferred. networkx lives here and only here; it is imported
by `plan` and `run`, never by `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..checked import CheckedWorkflow
from ..plan import Edge

__all__ = ["Ordering", "order"]


@dataclass(frozen=True, slots=True)
class Ordering:
    stages: tuple[tuple[str, ...], ...]
    edges: tuple[Edge, ...]


def build_graph(workflow: CheckedWorkflow) -> nx.DiGraph:
    graph = nx.DiGraph()
    for step in workflow.steps:
        graph.add_node(step.name, index=step.index)
    for step in workflow.steps:
        for dependency in step.dependencies:
            explicit = not dependency.inferred
            if graph.has_edge(dependency.target, step.name):
                explicit = explicit or not graph.edges[dependency.target, step.name]["inferred"]
            graph.add_edge(dependency.target, step.name, inferred=not explicit)
    return graph


def order(workflow: CheckedWorkflow) -> Ordering:
    graph = build_graph(workflow)
    assert nx.is_directed_acyclic_graph(graph), "the check pass reports cycles first"
    index = nx.get_node_attributes(graph, "index")
    stages = tuple(
        tuple(sorted(generation, key=index.__getitem__))
        for generation in nx.topological_generations(graph)
    )
    edges = tuple(
        Edge(source=source, target=target, inferred=data["inferred"])
        for source, target, data in sorted(
            graph.edges(data=True), key=lambda e: (index[e[1]], index[e[0]])
        )
    )
    return Ordering(stages, edges)
