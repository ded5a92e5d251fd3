"""Maximum independent set instances on random graphs, clique-partition formulation.

Graph (seeded):

* ``graph="barabasi_albert"`` (default): preferential attachment; starts from a clique on
  ``affinity + 1`` nodes, then every new node links to ``affinity`` distinct earlier nodes drawn
  with probability proportional to their degree;
* ``graph="erdos_renyi"``: every pair of nodes is an edge with probability ``edge_probability``.

Formulation: the edges are partitioned greedily into cliques (nodes by decreasing degree; a clique
grows from a node through its not-yet-covered edges, admitting a neighbour when it is adjacent to
every member in the graph), and each clique K gives one row:

    max  sum_v x_v
    s.t. sum_{v in K} x_v <= 1     for every clique K of the partition
         x_v in {0, 1}

Every edge lies inside some clique, so the rows say exactly "no two adjacent nodes"; they are
tighter than one row per edge. Isolated nodes appear in no row.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from solverhub.core.mip import MAX, MIPProblem
from solverhub.instances._common import GeneratorParams, SeedField, instance_address, validate_params

__all__ = ["IndependentSetParams", "independent_set", "barabasi_albert_edges", "erdos_renyi_edges",
           "clique_partition"]

GraphKind = Literal["barabasi_albert", "erdos_renyi"]


class IndependentSetParams(GeneratorParams):
    family = "independent_set"   # named by _name below: only the chosen graph model's parameter

    n_nodes: int = Field(500, ge=1, le=1_000_000, description="number of nodes (binary variables)")
    graph: GraphKind = Field("barabasi_albert", description="random graph model")
    affinity: int = Field(4, ge=1, description="Barabasi-Albert: edges added per new node")
    edge_probability: float = Field(0.01, gt=0.0, le=1.0, description="Erdos-Renyi: edge probability")
    seed: int = SeedField

    @model_validator(mode="after")
    def _graph(self) -> "IndependentSetParams":
        if self.graph == "barabasi_albert" and self.affinity >= self.n_nodes:
            raise ValueError(f"affinity={self.affinity} must be smaller than n_nodes={self.n_nodes} "
                             f"for a Barabasi-Albert graph")
        if self.graph == "erdos_renyi" and self.n_nodes * (self.n_nodes - 1) / 2 * self.edge_probability > 2e7:
            raise ValueError("the Erdos-Renyi graph would have more than 2e7 edges expected")
        return self


def barabasi_albert_edges(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Edges (k x 2, u < v) of a preferential-attachment graph."""
    edges = [(u, v) for u in range(m + 1) for v in range(u + 1, m + 1)]
    degree = np.zeros(n, dtype=np.float64)
    degree[: m + 1] = m
    for new in range(m + 1, n):
        targets = rng.choice(new, size=m, replace=False, p=degree[:new] / degree[:new].sum())
        for t in sorted(int(t) for t in targets):
            edges.append((t, new))
        degree[targets] += 1
        degree[new] = m
    return np.asarray(edges, dtype=np.int64).reshape(-1, 2)


def erdos_renyi_edges(rng: np.random.Generator, n: int, prob: float) -> np.ndarray:
    """Edges (k x 2, u < v) of a G(n, p) random graph, drawn row by row."""
    parts = []
    for u in range(n - 1):
        hits = np.flatnonzero(rng.random(n - u - 1) < prob) + u + 1
        if hits.size:
            parts.append(np.column_stack([np.full(hits.size, u), hits]))
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 2), dtype=np.int64)


def clique_partition(n: int, edges: np.ndarray) -> list[list[int]]:
    """Greedy partition of the edge set into cliques (every edge in at least one clique)."""
    adj: list[set[int]] = [set() for _ in range(n)]
    for u, v in edges:
        adj[u].add(int(v))
        adj[v].add(int(u))
    uncovered = [set(s) for s in adj]
    degree = np.array([len(s) for s in adj])
    order = np.lexsort((np.arange(n), -degree))  # by degree descending, ties by index
    cliques: list[list[int]] = []
    for v in order:
        v = int(v)
        while uncovered[v]:
            clique = [v]
            for u in sorted(uncovered[v], key=lambda w: (-degree[w], w)):
                if all(u in adj[w] for w in clique[1:]):
                    clique.append(u)
            for a in clique:
                uncovered[a].difference_update(clique)
            cliques.append(sorted(clique))
    return cliques


def _name(p: IndependentSetParams) -> str:
    """``independent_set-ba-n500-a4-s1`` / ``independent_set-er-n500-p0.01-s1``: only the parameter
    of the chosen graph model is named."""
    if p.graph == "barabasi_albert":
        return f"independent_set-ba-n{p.n_nodes}-a{p.affinity}-s{p.seed}"
    return f"independent_set-er-n{p.n_nodes}-p{p.edge_probability:g}-s{p.seed}"


def independent_set(*, n_nodes: int = 500, graph: str = "barabasi_albert", affinity: int = 4,
                    edge_probability: float = 0.01, seed: int = 0) -> MIPProblem:
    """A maximum independent set instance (maximisation, one binary variable per node)."""
    p = validate_params(IndependentSetParams, dict(n_nodes=n_nodes, graph=graph, affinity=affinity,
                                                   edge_probability=edge_probability, seed=seed))
    rng = np.random.default_rng(p.seed)
    if p.graph == "barabasi_albert":
        edges = barabasi_albert_edges(rng, p.n_nodes, p.affinity)
    else:
        edges = erdos_renyi_edges(rng, p.n_nodes, p.edge_probability)
    cliques = clique_partition(p.n_nodes, edges)
    rows = np.repeat(np.arange(len(cliques)), [len(k) for k in cliques])
    cols = np.fromiter((v for k in cliques for v in k), dtype=np.int64, count=rows.size)
    A = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(len(cliques), p.n_nodes))
    prob = MIPProblem(
        c=np.ones(p.n_nodes), A=A,
        row_lower=np.full(len(cliques), -np.inf), row_upper=np.ones(len(cliques)),
        col_lower=np.zeros(p.n_nodes), col_upper=np.ones(p.n_nodes),
        integrality=np.ones(p.n_nodes, dtype=bool), sense=MAX,
        name=_name(p), source=instance_address(p),
    )
    return prob

