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
    # An edge is explicit when any dependency on it was written in depends_on.
    inferred: dict[tuple[str, str], bool] = {}
    for step in workflow.steps:
        for dependency in step.dependencies:
            edge = (dependency.target, step.name)
            inferred[edge] = inferred.get(edge, True) and dependency.inferred
    graph = nx.DiGraph()  # built in bulk: networkx's per-call checks add up at 5,000 steps
    graph.add_nodes_from((step.name, {"index": step.index}) for step in workflow.steps)
    graph.add_edges_from((a, b, {"inferred": value}) for (a, b), value in inferred.items())
    return graph


def order(workflow: CheckedWorkflow) -> Ordering:
    # The check pass reports cycles first; topological_generations raises on one anyway.
    graph = build_graph(workflow)
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
