"""Polishing for the margin losses (hinge, logistic) and adversarial training (issue 23).

The squared loss has an active-set Newton polish (polish.py ``polish_squared``); the margin
losses had none, so ``convex-relu-auto`` sent them to CLARABEL on the whole program. Here the
ADMM (split u-step) runs a few hundred iterations to find the support, then the program is
solved to interior-point accuracy on that support only, and the answer is certified on the full
program:

1. Groups: the ``start_groups`` largest blocks of the ADMM iterate; for the logistic loss also
   the ``dual_groups`` blocks whose zero block violates its optimality condition most under the
   ADMM's own loss multiplier (the residual of step 3's test, :func:`_dual_residuals`): at
   iteration 200 the iterate's norms rank the optimum's blocks poorly (make_classification
   10-d: ranks up to 76 of 100), the multiplier better (breast_cancer: the support in its top
   44). All cone rows of each group are kept.
2. The restricted program, the full one with the left-out groups fixed at zero (logistic: the
   margins m as variables tied to u by equality rows), goes to Clarabel directly (its Python
   API, no CVXPY: no compile step, and a termination callback polls the time limit and Ctrl-C
   at every interior-point iteration):

       min  (1/n) sum_k w_k t_k + beta sum_b r_b
       s.t. r_b >= ||u_b||                                     (second-order cones)
            (2 d_ik - 1) x_k'u_b >= 0, k in the group's rows      (the sampled cones)
            m_k = y_k sum_b d_{i_b k} s_b x_k'u_b - eps sum_j a_kj,  a_kj >= |Z_kj|   (eps > 0)
            hinge:    t_k >= 0, t_k >= 1 - m_k
            logistic: t_k >= log(1 + exp(-m_k)) as exp(-m_k - t_k) <= p_k, exp(-t_k) <= q_k,
                      p_k + q_k <= 1                               (two exponential cones)

   with s_b = +1 for v blocks, -1 for w blocks, and Z_k = sum_b d_{i_b k} s_b u_b (the
   perturbed coordinates).
3. A left-out group enters when its zero block violates its optimality condition, min over
   mu >= 0 of ||C_b - X'(2 D_i - I) mu|| > beta with C_b the loss multipliers' product (the
   same test as certify.dual_bound's); blocks that are zero at the restricted optimum leave;
   then it is solved again (at most ``max_solves`` solves). Logistic: when nothing enters but
   the set still holds zero blocks, one more solve on the support alone (zero blocks at the
   apex of their cones slow Clarabel and, with exponential cones, leave it inaccurate), with
   Clarabel's step fraction at 0.95 instead of 0.99.
4. Certificate on the full program (certify.certify_point): the point projected onto every cone
   and a Lagrange-dual bound built from Clarabel's own loss multipliers (for the hinge loss the
   multiplier of a sample at margin exactly 1 is not the gradient's: the point alone gives a
   loose bound). Accepted only when the relative gap is <= ``gap_tol`` (1e-7, as the other
   polishes) and the projected point's cone violation is <= 10 ``feas_tol``.

Not in Bai et al.; the ADMM before it is theirs (admm.py).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import nnls

from solverhub.core.interrupt import stop_requested

from .polish import PolishOutcome, certified_outcome
from .problem import ReLUTraining

__all__ = ["polish_margin", "clarabel_unavailable"]

#: Clarabel's tolerances for the restricted solve (convex-relu-cvxpy's reference uses 1e-8 too)
_TOL = 1e-10
#: Clarabel's largest step, as a fraction of the step to the boundary, with exponential cones
#: (logistic): at its default 0.99 restricted solves stopped AlmostSolved 1e-5 to 1e-3 above
#: their optimum or with InsufficientProgress (make_classification 10-d logistic, tuning list)
_EXP_STEP = 0.95
#: a block of the restricted solution below this times the largest norm is zero there
_ZERO = 1e-6


def clarabel_unavailable() -> str | None:
    """Why the margin polish cannot run here (None when it can)."""
    from importlib.util import find_spec

    if find_spec("clarabel") is None:
        return "clarabel is not installed (pip install 'solverhub[cvxpy]')"
    return None


class _Restricted:
    """The restricted program of one output in Clarabel's form min q'x s.t. A x + s = b, s in K,
    with the row ranges needed to read the loss multipliers back."""

    def __init__(self, pb: ReLUTraining, j: int, groups: list[tuple[int, int]],
                 rows: list[np.ndarray]) -> None:
        import clarabel

        X, n, d = pb.X, pb.n_samples, pb.d
        y = pb.Y[:, j]
        w = pb.weights
        Df = pb.D.astype(np.float64)
        G = len(groups)
        nb = np.arange(d)[pb.nonbias]
        eps = pb.eps
        logistic = pb.loss == "logistic"
        # variables: u (G d), r (G), t (n), then p, q (n each, logistic), then a (n d', eps > 0)
        o_r, o_t = G * d, G * d + G
        o_p = o_t + n
        o_q = o_p + n
        o_a = o_q + n if logistic else o_p
        n_a = n * nb.size if eps > 0 else 0
        # logistic: the margins m (n) are variables of their own, tied to u by equality rows,
        # so that the exponential cones' rows are sparse (m, t) rather than dense rows in u
        # (make_classification 10-d logistic, all 100 blocks: 44 instead of 52 iterations)
        o_m = o_a + n_a
        nvar = o_m + (n if logistic else 0)
        sgn = np.array([1.0 if s == 0 else -1.0 for s, _ in groups])
        gi = np.array([i for _, i in groups], dtype=np.intp)
        # margin coefficients on u: y_k d_{i_b k} s_b x_k (row k, block b)
        Dg = Df[:, gi] * sgn                                              # (n, G)
        Mu = ((y[:, None] * Dg)[:, :, None] * X[:, None, :]).reshape(n, G * d)
        Mu = sparse.csr_matrix(Mu)
        if eps > 0:                       # - eps sum_j a_kj in the margin
            Ma = sparse.csr_matrix((np.full(n_a, -eps), (np.repeat(np.arange(n), nb.size),
                                                         o_a + np.arange(n_a))), shape=(n, nvar))
            Mfull = sparse.hstack([Mu, sparse.csr_matrix((n, nvar - G * d))]).tocsr() + Ma
        else:
            Mfull = sparse.hstack([Mu, sparse.csr_matrix((n, nvar - G * d))]).tocsr()
        E = 2.0 * Df - 1.0
        blocks_A: list[Any] = []
        blocks_b: list[np.ndarray] = []
        cones: list[Any] = []
        # (a) the sampled cone rows of each group: -(2 d_ik - 1) x_k'u_b + s = 0, s >= 0
        cone_rows = []
        for b, ((_s, i), K) in enumerate(zip(groups, rows)):
            if K.size == 0:
                continue
            R = -(E[K, i][:, None] * X[K])
            cone_rows.append(sparse.csr_matrix(
                (R.ravel(), (np.repeat(np.arange(K.size), d), np.tile(b * d + np.arange(d),
                                                                      K.size))),
                shape=(K.size, nvar)))
        n_cone = sum(m.shape[0] for m in cone_rows)
        if cone_rows:
            blocks_A.append(sparse.vstack(cone_rows))
            blocks_b.append(np.zeros(n_cone))
        It = sparse.csr_matrix((np.ones(n), (np.arange(n), o_t + np.arange(n))), shape=(n, nvar))
        nonneg = n_cone
        if not logistic:
            # (b) hinge: t >= 0 and t + m >= 1
            blocks_A += [-It, -(It + Mfull)]
            blocks_b += [np.zeros(n), -np.ones(n)]
            self.margin_rows = slice(nonneg + n, nonneg + 2 * n)
            nonneg += 2 * n
        else:
            # (c) p + q <= 1
            Ip = sparse.csr_matrix((np.ones(n), (np.arange(n), o_p + np.arange(n))),
                                   shape=(n, nvar))
            Iq = sparse.csr_matrix((np.ones(n), (np.arange(n), o_q + np.arange(n))),
                                   shape=(n, nvar))
            blocks_A.append(Ip + Iq)
            blocks_b.append(np.ones(n))
            nonneg += n
        if eps > 0:
            # (d) a - Z >= 0 and a + Z >= 0, Z_kj = sum_b d_{i_b k} s_b u_b[j] (j perturbed)
            kk, bb = np.nonzero(Dg)
            rr = (kk[:, None] * nb.size + np.arange(nb.size)[None]).ravel()
            cc = (bb[:, None] * d + nb[None]).ravel()
            vv = np.repeat(Dg[kk, bb], nb.size)
            Z = sparse.csr_matrix((vv, (rr, cc)), shape=(n_a, nvar))
            Ia = sparse.csr_matrix((np.ones(n_a), (np.arange(n_a), o_a + np.arange(n_a))),
                                   shape=(n_a, nvar))
            self.abs_rows = (slice(nonneg, nonneg + n_a), slice(nonneg + n_a, nonneg + 2 * n_a))
            blocks_A += [-(Ia - Z), -(Ia + Z)]
            blocks_b += [np.zeros(n_a), np.zeros(n_a)]
            nonneg += 2 * n_a
        cones.append(clarabel.NonnegativeConeT(nonneg))
        # (e) r_b >= ||u_b||: s = (r_b, u_b)
        soc_r, soc_c = [], []
        for b in range(G):
            soc_r.append(b * (d + 1))
            soc_c.append(o_r + b)
            soc_r.extend(b * (d + 1) + 1 + np.arange(d))
            soc_c.extend(b * d + np.arange(d))
        blocks_A.append(sparse.csr_matrix((-np.ones(len(soc_r)), (soc_r, soc_c)),
                                          shape=(G * (d + 1), nvar)))
        blocks_b.append(np.zeros(G * (d + 1)))
        cones += [clarabel.SecondOrderConeT(d + 1)] * G
        first_exp = nonneg + G * (d + 1)
        if logistic:
            # (f) per sample: (-m - t, 1, p) and (-t, 1, q) in the exponential cone
            zero = sparse.csr_matrix((n, nvar))
            Im = sparse.csr_matrix((np.ones(n), (np.arange(n), o_m + np.arange(n))),
                                   shape=(n, nvar))
            stacked = sparse.vstack([Im + It, zero, -Ip, It, zero, -Iq]).tocsr()
            # row 6k + r of the block is row r n + k of the stack
            blocks_A.append(stacked[(np.arange(6)[None, :] * n + np.arange(n)[:, None]).ravel()])
            be = np.zeros(6 * n)
            be[1::3] = 1.0
            blocks_b.append(be)
            cones += [clarabel.ExponentialConeT()] * (2 * n)
            self.margin_rows = slice(first_exp, first_exp + 6 * n, 6)   # cone 1's first row
            # (g) m - (margin of u, a) = 0
            blocks_A.append(Im - Mfull)
            blocks_b.append(np.zeros(n))
            cones.append(clarabel.ZeroConeT(n))
        self.A = sparse.vstack(blocks_A).tocsc()
        self.A.eliminate_zeros()          # zero features (constant pixels) add no structure
        self.b = np.concatenate(blocks_b)
        self.cones = cones
        self.q = np.zeros(nvar)
        self.q[o_r:o_r + G] = pb.beta
        self.q[o_t:o_t + n] = w / n
        self.nvar, self.G, self.d, self.n, self.nb = nvar, G, d, n, nb
        self.logistic, self.eps = logistic, eps

    def solve(self, deadline: float) -> tuple[str, np.ndarray | None, np.ndarray | None]:
        """(status, U (G, d), z): the blocks' weights and Clarabel's dual vector (read by
        :meth:`loss_dual`); None, None unless Clarabel solved it."""
        import clarabel

        st = clarabel.DefaultSettings()
        st.verbose = False
        st.tol_gap_abs = st.tol_gap_rel = st.tol_feas = _TOL
        if self.logistic:
            st.max_step_fraction = _EXP_STEP
        remaining = deadline - time.perf_counter()
        if math.isfinite(remaining):
            st.time_limit = max(remaining, 1e-3)
        solver = clarabel.DefaultSolver(sparse.csc_matrix((self.nvar, self.nvar)), self.q,
                                        self.A, self.b, self.cones, st)
        # an interior-point iteration is one sparse factorization: polled every iteration
        # (clarabel >= 0.10; before, its own time limit above is the only stop)
        if hasattr(solver, "set_termination_callback"):
            solver.set_termination_callback(
                lambda _info: stop_requested() or time.perf_counter() >= deadline)
        sol = solver.solve()
        status = str(sol.status)
        if status not in ("Solved", "AlmostSolved"):
            return status, None, None
        x, z = np.asarray(sol.x), np.asarray(sol.z)
        U = x[:self.G * self.d].reshape(self.G, self.d)
        return status, U, z

    def loss_dual(self, pb: ReLUTraining, j: int, z: np.ndarray) -> np.ndarray:
        """Lam (n, d): -c_k y_k x_k + (z+_k - z-_k) on the perturbed coordinates, c_k >= 0 the
        multiplier of sample k's margin (hinge row's dual; logistic: minus the first entry of
        its first exponential cone's dual)."""
        c = z[self.margin_rows]
        if self.logistic:
            c = -c
        c = np.maximum(c, 0.0)
        Lam = -(c * pb.Y[:, j])[:, None] * pb.X
        if self.eps > 0:
            zp, zm = z[self.abs_rows[0]], z[self.abs_rows[1]]
            Lam[:, self.nb] += (zp - zm).reshape(self.n, self.nb.size)
        return Lam


def _dual_residuals(pb: ReLUTraining, Lam: np.ndarray, blocks: Any = None,
                    deadline: float = math.inf) -> np.ndarray:
    """(2, P): r_b = min over mu >= 0 of ||C_b - X'(2 D_i - I) mu||, C_b = +-sum_k d_ik Lam_k, of
    every block (or of those where ``blocks`` (2, P) is true; the others 0). A block that is
    nonzero at the optimum has r_b = beta; a zero block needs r_b <= beta (the optimality test of
    certify.dual_bound). One NNLS (d x n) per block: past ``deadline`` or on a stop request the
    rest are left at 0 (the caller's own check then ends the attempt)."""
    X, n = pb.X, pb.n_samples
    Df = pb.D.astype(np.float64)
    E = 2.0 * Df - 1.0
    C = Lam.T @ Df                                                       # (d, P)
    out = np.zeros((2, pb.P))
    todo = np.ones((2, pb.P), dtype=bool) if blocks is None else blocks
    for i in np.flatnonzero(todo.any(axis=0)):
        if stop_requested() or time.perf_counter() >= deadline:
            break
        A = X.T * E[:, i]
        for s in (0, 1):
            if todo[s, i]:
                out[s, i] = float(nnls(A, C[:, i] if s == 0 else -C[:, i], maxiter=50 * n)[1])
    return out


def _violations(pb: ReLUTraining, Lam: np.ndarray, inside: set[tuple[int, int]],
                deadline: float = math.inf) -> list[tuple[float, int, int]]:
    """(violation, s, i) of each block outside the working set whose zero block violates its
    optimality condition (_dual_residuals > beta), largest first."""
    beta = pb.beta
    cn = np.linalg.norm(Lam.T @ pb.D.astype(np.float64), axis=0)
    todo = np.zeros((2, pb.P), dtype=bool)
    todo[:, cn > beta] = True
    for s, i in inside:
        todo[s, i] = False
    r = _dual_residuals(pb, Lam, todo, deadline)
    out = [(float(r[s, i]) - beta, s, int(i)) for s, i in zip(*np.nonzero(todo))
           if r[s, i] > beta * (1.0 + 1e-6)]
    return sorted(out, reverse=True)


def polish_margin(pb: ReLUTraining, V: np.ndarray, *, start_groups: int = 20,
                  grow: float = 0.5, gap_tol: float = 1e-7, feas_tol: float = 1e-9,
                  max_solves: int = 8, deadline: float = math.inf,
                  admm_dual: np.ndarray | None = None, dual_groups: int = 0) -> PolishOutcome:
    """Polish the ADMM iterate ``V`` (c, 2, P, d) of a hinge or logistic problem (eps >= 0,
    sample weights allowed; not robust cones); see the module docstring. Host arrays only."""
    if pb.loss == "squared":
        raise ValueError("polish_margin is for the hinge and logistic losses (squared: polish.py)")
    n, d = pb.n_samples, pb.d
    # the start from the ADMM's multiplier and the last solve on the support were tuned on the
    # logistic loss only (docs/convex_relu.md); the hinge loss keeps the session-4 working set
    logistic = pb.loss == "logistic"
    U_out = np.zeros_like(V)
    loss_dual = np.zeros((pb.c, n, d))
    solves = 0
    all_rows = np.arange(n)

    def failed(reason: str) -> PolishOutcome:
        return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf, 0, solves,
                             reason)

    for j in range(pb.c):
        norms = np.linalg.norm(V[j], axis=-1).ravel()                    # (2 P,)
        order = [int(b) for b in np.argsort(-norms, kind="stable") if norms[b] > 0.0]
        groups = [(b // pb.P, b % pb.P) for b in order[:start_groups]]
        if admm_dual is not None and dual_groups > 0 and logistic:
            score = _dual_residuals(pb, admm_dual[j], deadline=deadline).ravel()
            for b in np.argsort(-score, kind="stable")[:dual_groups]:
                g = (int(b) // pb.P, int(b) % pb.P)
                if g not in groups:
                    groups.append(g)
        settled = shrunk = False
        U = np.zeros((0, d))
        Lam = np.zeros((n, d))
        for _ in range(max_solves):
            if stop_requested():
                return failed("interrupted")
            if time.perf_counter() >= deadline:
                return failed("time limit")
            if not groups:                  # a zero iterate: the zero point is the candidate
                settled = True
                break
            prob = _Restricted(pb, j, groups, [all_rows] * len(groups))
            status, Uc, z = prob.solve(deadline)
            solves += 1
            if status in ("CallbackTerminated", "MaxTime"):
                return failed("interrupted" if stop_requested() else "time limit")
            if Uc is None or z is None:
                return failed(f"Clarabel: {status}")
            U = Uc
            Lam = prob.loss_dual(pb, j, z)
            entering = _violations(pb, Lam, set(groups), deadline)
            if stop_requested() or time.perf_counter() >= deadline:
                return failed("interrupted" if stop_requested() else "time limit")
            un = np.linalg.norm(U, axis=1)
            nonzero = un > _ZERO * float(np.max(un, initial=0.0))
            if not entering and (shrunk or not logistic or nonzero.all()):
                settled = True
                break
            # blocks that are zero at the restricted optimum leave (the test above brings them
            # back if the optimum needs them). Logistic: without violators, the last solve is on
            # the support alone: zero blocks sit at the apex of their cones, which slows the
            # interior point and, with exponential cones, leaves it inaccurate (breast_cancer
            # logistic: 41 blocks, 65 iterations, AlmostSolved 0.4 % above the optimum; its
            # 18-block support: 40 iterations, exact)
            groups = [g for g, keep in zip(groups, nonzero) if keep]
            shrunk = not entering
            k = max(1, int(math.ceil(grow * len(groups))))
            groups += [(s, i) for _v, s, i in entering[:k]]
        if not settled:
            return failed(f"the working set did not settle in {max_solves} solves")
        for b, (s, i) in enumerate(groups[:U.shape[0]]):
            U_out[j, s, i] = U[b]
        loss_dual[j] = Lam
    return certified_outcome(pb, U_out, solves, feas_tol=feas_tol, gap_tol=gap_tol,
                             deadline=deadline, loss_dual=loss_dual)
