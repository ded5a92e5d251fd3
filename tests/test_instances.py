"""Instance generators (solverhub.instances) and the ``generate:`` loader plugin."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.core.mip import MAX, MIN
from solverhub.instances import FAMILIES, generate
from solverhub.instances.indset import barabasi_albert_edges, clique_partition, erdos_renyi_edges

FAMILY_NAMES = list(FAMILIES)

#: tiny instances of every family, solved exactly in well under a second
TINY = {
    "set_cover": dict(rows=30, cols=60, density=0.1),
    "combinatorial_auction": dict(n_items=15, n_bids=40),
    "facility_location": dict(n_customers=12, n_facilities=6, ratio=2.0),
    "independent_set": dict(n_nodes=40, affinity=3),
    "multiple_knapsack": dict(n_items=15, n_knapsacks=3),
}


def _same(p: sh.MIPProblem, q: sh.MIPProblem) -> bool:
    return (p.A.shape == q.A.shape and (p.A != q.A).nnz == 0 and np.array_equal(p.c, q.c)
            and np.array_equal(p.row_lower, q.row_lower) and np.array_equal(p.row_upper, q.row_upper)
            and np.array_equal(p.col_lower, q.col_lower) and np.array_equal(p.col_upper, q.col_upper)
            and np.array_equal(p.integrality, q.integrality) and p.sense == q.sense
            and p.name == q.name and p.source == q.source)


def _milp(p: sh.MIPProblem):
    """Solve with scipy's milp (independent of the solverhub highs plugin)."""
    res = milp(p.c * p.sense, constraints=LinearConstraint(p.A, p.row_lower, p.row_upper),
               integrality=p.integrality.astype(int), bounds=Bounds(p.col_lower, p.col_upper),
               options={"time_limit": 30})
    assert res.status == 0, (p.name, res.message)
    return res.x, p.sense * res.fun + p.offset


def _highs_registered() -> bool:
    try:
        return "highs" in sh.get_plugin_manager().solvers()
    except Exception:
        return False


# ---------------------------------------------------------------- determinism and identity
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_same_seed_same_problem_different_seed_different(family):
    kw = TINY[family]
    a = generate(family, **kw, seed=3)
    b = FAMILIES[family].function(**kw, seed=3)
    c = generate(family, **kw, seed=4)
    assert _same(a, b)
    assert not (a.A.shape == c.A.shape and (a.A != c.A).nnz == 0 and np.array_equal(a.c, c.c)
                and np.array_equal(a.row_upper, c.row_upper))
    assert a.name.endswith("-s3") and c.name.endswith("-s4")


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_source_address_regenerates_the_instance(family):
    p = generate(family, **TINY[family], seed=7)
    assert p.source.startswith(f"generate:{family}?") and "seed=7" in p.source
    q = sh.load_problem(p.source)
    assert _same(p, q)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_function_defaults_match_parameter_model(family):
    fam = FAMILIES[family]
    sig = inspect.signature(fam.function)
    model_defaults = {k: f.default for k, f in fam.params.model_fields.items()}
    sig_defaults = {k: v.default for k, v in sig.parameters.items()}
    assert sig_defaults == model_defaults
    assert all(v.kind is inspect.Parameter.KEYWORD_ONLY for v in sig.parameters.values())


def test_names():
    assert sh.load_problem("generate:set_cover?rows=500&cols=1000&density=0.05&seed=1").name \
        == "set_cover-r500-c1000-d0.05-s1"
    assert generate("set_cover", rows=50, cols=80, density=0.1, max_coef=7, seed=2).name \
        == "set_cover-r50-c80-d0.1-mc7-s2"
    assert generate("combinatorial_auction", n_items=20, n_bids=30).name == "combinatorial_auction-i20-b30-s0"
    assert generate("facility_location", n_customers=5, n_facilities=4, ratio=3).name \
        == "facility_location-c5-f4-r3-s0"
    assert generate("independent_set", n_nodes=30, affinity=2).name == "independent_set-ba-n30-a2-s0"
    assert generate("independent_set", n_nodes=30, graph="erdos_renyi", edge_probability=0.1).name \
        == "independent_set-er-n30-p0.1-s0"
    assert generate("multiple_knapsack", n_items=10, n_knapsacks=2, correlation="strong").name \
        == "multiple_knapsack-i10-k2-strong-s0"


# ---------------------------------------------------------------- sizes and structure
def test_set_cover_structure():
    p = generate("set_cover", rows=200, cols=400, density=0.05, max_coef=50, seed=1)
    assert (p.m, p.n) == (200, 400) and p.sense == MIN
    assert abs(p.A.nnz - 200 * 400 * 0.05) <= 200  # a few forced cells may be added
    assert np.all(p.A.data == 1.0)
    assert np.all(p.A.getnnz(axis=1) >= 1) and np.all(p.A.getnnz(axis=0) >= 1)
    assert np.all(p.row_lower == 1) and np.all(np.isinf(p.row_upper))
    assert p.c.min() >= 1 and p.c.max() <= 50 and np.all(p.c == np.round(p.c))
    assert p.binary_mask.all()


def test_combinatorial_auction_structure():
    p = generate("combinatorial_auction", n_items=50, n_bids=200, seed=1)
    assert p.n == 200 and p.sense == MAX and p.binary_mask.all()
    assert np.all(p.row_upper == 1) and np.all(p.c > 0)
    # item rows come first: at most n_items of them, then one XOR row per multi-bid bidder
    assert p.m >= 1 and np.all(p.A.data == 1.0)
    assert np.all(p.A.getnnz(axis=0) >= 1)   # every bid asks for at least one item


@pytest.mark.parametrize("strong", [True, False])
def test_facility_location_structure(strong):
    C, F = 20, 8
    p = generate("facility_location", n_customers=C, n_facilities=F, ratio=3.0, strong=strong, seed=2)
    assert p.n == F + C * F and p.sense == MIN
    assert p.m == C + F + 1 + (C * F if strong else 0)
    assert p.integrality[:F].all() and not p.integrality[F:].any()
    cap = -p.A[C:C + F, :F].diagonal()
    demand = p.A[C, F:F + F * C:F].toarray().ravel()   # row C: facility 0's capacity row; x_0j coefficients
    assert np.isclose(cap.sum(), 3.0 * demand.sum())
    q = generate("facility_location", n_customers=C, n_facilities=F, binary_assignment=True, seed=2)
    assert q.integrality.all()


def test_independent_set_cliques_cover_every_edge():
    for edges, n in ((barabasi_albert_edges(np.random.default_rng(0), 60, 3), 60),
                     (erdos_renyi_edges(np.random.default_rng(1), 50, 0.2), 50)):
        cliques = clique_partition(n, edges)
        adj = {(int(u), int(v)) for u, v in edges} | {(int(v), int(u)) for u, v in edges}
        covered = set()
        for k in cliques:
            for a in k:
                for b in k:
                    if a != b:
                        assert (a, b) in adj      # every row is a clique of the graph
                        covered.add((a, b))
        assert covered == adj                     # every edge is in some row


def test_barabasi_albert_degrees():
    edges = barabasi_albert_edges(np.random.default_rng(5), 200, 4)
    assert edges.shape == (4 * 5 // 2 + 4 * (200 - 5), 2)
    assert np.all(edges[:, 0] < edges[:, 1])
    assert len({tuple(e) for e in edges.tolist()}) == len(edges)   # no duplicate edges


def test_multiple_knapsack_structure():
    n, K = 30, 4
    p = generate("multiple_knapsack", n_items=n, n_knapsacks=K, seed=3)
    assert (p.n, p.m) == (n * K, n + K) and p.sense == MAX and p.binary_mask.all()
    w = p.A[n, ::K].toarray().ravel()          # knapsack 0's capacity row, items 0..n-1
    caps = p.row_upper[n:]
    assert np.all(caps > 0) and caps.sum() <= 0.5 * w.sum() + 1
    for corr in ("uncorrelated", "weak", "strong"):
        q = generate("multiple_knapsack", n_items=n, n_knapsacks=K, correlation=corr, seed=3)
        assert np.all(q.c >= 1)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("family, params, words", [
    ("set_cover", dict(rows=-3), ["rows", "greater than or equal to 1"]),
    ("set_cover", dict(rows=10, cols=10, density=0.01), ["density", "non-zeros"]),
    ("set_cover", dict(density=1.5), ["density"]),
    ("set_cover", dict(rows="many"), ["rows", "integer"]),
    ("set_cover", dict(rows=True), ["rows", "number"]),
    ("set_cover", dict(rows=10.5), ["rows"]),
    ("set_cover", dict(colz=4), ["unknown parameter 'colz'", "rows, cols, density, max_coef, seed"]),
    ("set_cover", dict(seed=-1), ["seed"]),
    ("combinatorial_auction", dict(min_value=50, max_value=10), ["min_value", "max_value"]),
    ("combinatorial_auction", dict(add_item_prob=1.0), ["add_item_prob"]),
    ("facility_location", dict(ratio=0.5), ["ratio"]),
    ("facility_location", dict(ratio="nan"), ["ratio"]),
    ("independent_set", dict(n_nodes=4, affinity=4), ["affinity", "n_nodes"]),
    ("independent_set", dict(graph="grid"), ["graph", "barabasi_albert", "erdos_renyi"]),
    ("multiple_knapsack", dict(n_knapsacks=0), ["n_knapsacks"]),
    ("multiple_knapsack", dict(correlation="none"), ["correlation"]),
])
def test_bad_parameters_are_named(family, params, words):
    with pytest.raises(BadInputError) as exc:
        FAMILIES[family].function(**params) if "colz" not in params else generate(family, **params)
    msg = str(exc.value)
    assert msg.startswith(f"generate:{family}:") and "\n" not in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("address, words", [
    ("generate:set_cover?rows=-3", ["rows", "-3"]),
    ("generate:set_cover?rows=500&foo=1", ["unknown parameter 'foo'", "known: rows, cols"]),
    ("generate:travelling_salesman?n=5", ["unknown instance family 'travelling_salesman'",
                                          "set_cover", "multiple_knapsack"]),
    ("generate:", ["missing instance family", "set_cover"]),
    ("generate:independent_set?n_nodes=abc", ["n_nodes", "integer"]),
])
def test_bad_addresses(address, words):
    with pytest.raises(BadInputError) as exc:
        sh.load_problem(address)
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_address_parameters_as_strings_and_keywords():
    p = sh.load_problem("generate:multiple_knapsack?n_items=12&n_knapsacks=2&correlation=strong&seed=5")
    assert p.n == 24 and "correlation=strong" in p.source and "seed=5" in p.source
    q = sh.load_problem("generate:independent_set", n_nodes=25, affinity=2, seed=1)
    assert q.n == 25 and q.name == "independent_set-ba-n25-a2-s1"
    r = sh.load_problem("generate:facility_location?n_customers=4&n_facilities=3&binary_assignment=true")
    assert r.integrality.all()


def test_loader_record_owns_the_generate_scheme_only():
    pm = sh.get_plugin_manager()
    loader = pm.loader_for_scheme("generate")
    assert loader is not None and loader.provider == "generators" and loader.kind == "mip"
    assert loader.suffixes == () and loader.accepts is None      # files and objects are not its
    # the host parses the address and validates the parameters; the loader gets the target and
    # the family's validated model
    model = loader.params_model("set_cover")
    p = loader.load("set_cover", model(rows="20", cols=30, density=0.2, seed="9"))
    assert p.name == "set_cover-r20-c30-d0.2-s9"
    with pytest.raises(sh.BadInputError, match="unknown instance family 'nope'"):
        loader.params_model("nope")


def test_plugin_is_registered():
    infos = {i.name: i for i in sh.get_plugin_manager().plugin_infos()}
    assert "generators" in infos and not infos["generators"].broken
    assert "solverhub_loaders" in infos["generators"].hooks


def test_generators_plugin_conformance():
    testing = pytest.importorskip("solverhub.testing", reason="solverhub.testing is not written yet")
    from solverhub.plugins import generators

    report = testing.check_plugin(generators, "generators")
    assert all(v == "passed" or v.startswith("skipped") for v in report.values()), report


# ---------------------------------------------------------------- feasibility
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_tiny_instances_are_feasible(family):
    p = generate(family, **TINY[family], seed=1)
    x, obj = _milp(p)
    rep = p.check(x)
    assert rep.feasible, (p.name, str(rep))
    assert np.isclose(rep.objective, obj, rtol=1e-6, atol=1e-6)
    assert obj > 0


@pytest.mark.skipif(not _highs_registered(), reason="the 'highs' solver plugin is not registered yet")
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_tiny_instances_solved_by_highs_plugin(family):
    p = generate(family, **TINY[family], seed=2)
    _, ref = _milp(p)
    res = sh.solve(p.source, solver="highs", time_limit=30)
    assert res.status == "optimal", (res.status, res.error)
    assert res.info.get("verified") is True
    assert np.isclose(res.objective, ref, rtol=1e-5, atol=1e-5)
    assert res.instance == p.source


def test_independent_set_solution_is_independent():
    rng = np.random.default_rng(4)
    p = generate("independent_set", n_nodes=40, affinity=2, seed=4)
    x, obj = _milp(p)
    # regenerate the graph the same way the generator does and check no edge has both ends chosen
    edges = barabasi_albert_edges(rng, 40, 2)
    chosen = np.round(x).astype(bool)
    assert not np.any(chosen[edges[:, 0]] & chosen[edges[:, 1]])
    assert obj == chosen.sum()


def test_facility_location_single_sourcing_feasible():
    p = generate("facility_location", n_customers=10, n_facilities=5, ratio=3, binary_assignment=True, seed=0)
    x, _ = _milp(p)
    assert p.check(x).feasible


def test_sparse_matrix_types():
    for family in FAMILY_NAMES:
        p = generate(family, **TINY[family])
        assert sp.isspmatrix_csr(p.A) or isinstance(p.A, sp.csr_matrix)
        assert p.c.dtype == np.float64


def test_one_spelling_of_booleans_across_loaders():
    # the host reads every loader's query strings the same way: true / false only
    p = sh.load_problem("generate:facility_location?n_customers=5&n_facilities=3&strong=false")
    assert "strong0" in p.name
    for spelling in ("yes", "0", "True", "off"):
        with pytest.raises(sh.BadInputError, match=f"'strong': expected true or false, got '{spelling}'"):
            sh.load_problem(f"generate:facility_location?strong={spelling}")
    # a number is never a boolean, in the address or as a keyword
    with pytest.raises(sh.BadInputError, match="'rows' must be a number"):
        sh.load_problem("generate:set_cover", rows=True)
    p = sh.load_problem("generate:set_cover", rows=20, cols=30, seed=4)
    assert p.name == "set_cover-r20-c30-d0.05-s4"
