"""Run-directory files of a dag_topo run: W_raw.npy, W_est.csv, graph.graphml and graph.png."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from gfopt.core.checkpoint import atomic_write_bytes, atomic_write_text


def write_weights_csv(W: np.ndarray, names: list[str], path: Path) -> None:
    """W with node names as header and index (edge row -> column)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["", *names])
    for name, row in zip(names, W, strict=True):
        w.writerow([name, *[repr(float(x)) for x in row]])
    atomic_write_text(path, buf.getvalue())


def to_networkx(W: np.ndarray, names: list[str]):  # noqa: ANN201 (networkx.DiGraph)
    """A DiGraph with one node per column (attribute `name`) and the nonzero weights as edges."""
    import networkx as nx

    G = nx.DiGraph()
    for i, name in enumerate(names):
        G.add_node(i, name=str(name))
    for i, j in zip(*np.nonzero(W), strict=True):
        G.add_edge(int(i), int(j), weight=float(W[i, j]))
    return G


def write_graphml(W: np.ndarray, names: list[str], path: Path) -> None:
    """GraphML (networkx) of the thresholded estimate."""
    import networkx as nx

    buf = io.BytesIO()
    nx.write_graphml(to_networkx(W, names), buf)
    atomic_write_bytes(path, buf.getvalue())


def draw_graph(W: np.ndarray, names: list[str], path: Path, B_true: np.ndarray | None = None) -> None:
    """PNG drawing; with the truth: correct edges green, reversed orange, extra red, missing grey dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    d = len(names)
    E = W != 0
    G = to_networkx(W, names)
    if B_true is not None:
        T = np.asarray(B_true) != 0
        for i, j in zip(*np.nonzero(T & ~E & ~E.T), strict=True):
            G.add_edge(int(i), int(j))
    pos = nx.circular_layout(G) if d > 60 else nx.spring_layout(G, seed=0, k=2.0 / np.sqrt(max(d, 1)))
    fig, ax = plt.subplots(figsize=(8, 8))
    groups: dict[str, list[tuple[int, int]]] = {"estimated": [], "correct": [], "reversed": [], "extra": [],
                                                "missing": []}
    for i, j in G.edges():
        if not E[i, j]:
            groups["missing"].append((i, j))
        elif B_true is None:
            groups["estimated"].append((i, j))
        elif T[i, j]:
            groups["correct"].append((i, j))
        elif T[j, i]:
            groups["reversed"].append((i, j))
        else:
            groups["extra"].append((i, j))
    style = {"estimated": ("black", "solid"), "correct": ("tab:green", "solid"), "reversed": ("tab:orange", "solid"),
             "extra": ("tab:red", "solid"), "missing": ("grey", "dashed")}
    for key, edges in groups.items():
        if edges:
            color, line = style[key]
            nx.draw_networkx_edges(G, pos, edgelist=edges, edge_color=color, style=line, ax=ax, arrows=True,
                                   arrowsize=8, width=1.0, node_size=300)
            ax.plot([], [], color=color, linestyle=line, label=f"{key} ({len(edges)})")
    nx.draw_networkx_nodes(G, pos, node_size=300, node_color="white", edgecolors="black", ax=ax)
    if d <= 60:
        nx.draw_networkx_labels(G, pos, labels={i: str(n) for i, n in enumerate(names)}, font_size=7, ax=ax)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
