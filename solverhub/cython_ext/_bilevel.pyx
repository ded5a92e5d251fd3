# cython: language_level=3
"""Kernels of the bilevel plugin (solverhub/plugins/bilevel). NumPy references and oracles:
``solverhub.plugins.bilevel.sets.dykstra_polyhedron`` and the general LV-HBA loop in
``solverhub.plugins.bilevel.lvhba`` (option ``kernel="numpy"``).

* ``dykstra_polyhedron(p, A, b, eq, lower, upper, max_sweeps, tol) -> (z, sweeps)``: projection
  onto {A z <= b (eq rows: =), lower <= z <= upper} by Dykstra's method (halfspace corrections
  stored as scalars).
* ``lvhba_toy_run(which, x, y, theta, state, k0, iters, params)``: ``iters`` iterations of LV-HBA
  (Yao et al. 2024, Algorithm 1) on the LV-HBA toy (which = 0) or the BiC-GAFFA toy (which = 1),
  in place; ``state`` = [lambda, z, step]; ``params`` = [alpha, beta, eta, gamma1, gamma2, c0, p, r].
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport fabs, sqrt, pow

cnp.import_array()


cdef int _dykstra(double[::1] z, double[:, ::1] A, double[::1] b, unsigned char[::1] eq,
                  double[::1] lower, double[::1] upper, double[::1] corr_rows,
                  double[::1] corr_box, double[::1] z_old, double[::1] norms2, int max_sweeps,
                  double tol) noexcept nogil:
    """Dykstra's method in place on z (corrections zeroed here); returns the sweeps taken."""
    cdef Py_ssize_t n = z.shape[0], m = A.shape[0], i, j
    cdef double s, t, w, v, scale = 0.0, moved, delta
    cdef int sweeps = 0, it
    for j in range(n):
        corr_box[j] = 0.0
        if fabs(z[j]) > scale:
            scale = fabs(z[j])
    scale = tol * (scale if scale > 1.0 else 1.0)
    for i in range(m):
        corr_rows[i] = 0.0
    for it in range(1, max_sweeps + 1):
        sweeps = it
        for j in range(n):
            z_old[j] = z[j]
            w = z[j] + corr_box[j]
            v = w
            if v < lower[j]:
                v = lower[j]
            if v > upper[j]:
                v = upper[j]
            z[j] = v
            corr_box[j] = w - v
        for i in range(m):
            if norms2[i] == 0.0:
                continue
            s = 0.0
            for j in range(n):
                s += A[i, j] * z[j]
            s += corr_rows[i] * norms2[i] - b[i]
            t = s / norms2[i]
            if not eq[i] and t < 0.0:
                t = 0.0
            delta = corr_rows[i] - t
            if delta != 0.0:
                for j in range(n):
                    z[j] += delta * A[i, j]
            corr_rows[i] = t
        moved = 0.0
        for j in range(n):
            if fabs(z[j] - z_old[j]) > moved:
                moved = fabs(z[j] - z_old[j])
        if moved <= scale:
            break
    return sweeps


cdef void _norms2(double[:, ::1] A, double[::1] out) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double s
    for i in range(A.shape[0]):
        s = 0.0
        for j in range(A.shape[1]):
            s += A[i, j] * A[i, j]
        out[i] = s


def dykstra_polyhedron(double[::1] p, double[:, ::1] A, double[::1] b, unsigned char[::1] eq,
                       double[::1] lower, double[::1] upper, int max_sweeps, double tol):
    cdef Py_ssize_t n = p.shape[0], m = A.shape[0]
    z_arr = np.array(p, dtype=np.float64)
    cdef double[::1] z = z_arr
    cdef double[::1] norms2 = np.empty(m)
    _norms2(A, norms2)
    cdef int sweeps = _dykstra(z, A, b, eq, lower, upper, np.zeros(m), np.zeros(n), np.empty(n),
                               norms2, max_sweeps, tol)
    return z_arr, sweeps


cdef bint _in_poly(double[::1] z, double[:, ::1] A, double[::1] b, unsigned char[::1] eq,
                   double[::1] lower, double[::1] upper) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double s
    for j in range(z.shape[0]):
        if z[j] < lower[j] or z[j] > upper[j]:
            return False
    for i in range(A.shape[0]):
        s = 0.0
        for j in range(A.shape[1]):
            s += A[i, j] * z[j]
        s -= b[i]
        if (eq[i] and s != 0.0) or s > 0.0:
            return False
    return True


def lvhba_qp_run(double[::1] xy, double[::1] theta, double[::1] lam, double[::1] zv,
                 double[::1] state, long k0, long iters, Py_ssize_t nx,
                 double[:, ::1] HF, double[::1] cF, double[:, ::1] Hf, double[::1] cf,
                 double[:, ::1] Ag, double[::1] bg, double[::1] zlo, double[::1] zhi,
                 double[::1] ylo, double[::1] yhi,
                 double[:, ::1] AC, double[::1] bC, unsigned char[::1] eqC, double[::1] loC,
                 double[::1] upC, double[::1] params, double tol, int max_sweeps, double dyk_tol):
    """LV-HBA (Algorithm 1 of Yao et al. 2024) for quadratic F and f (gradients H z + c), affine g
    (g = Ag z - bg) and a polyhedral C (projected by Dykstra): ``iters`` iterations in place on
    xy = (x, y), theta, lam, zv; state = [step]. Returns (iterations done, converged)."""
    cdef Py_ssize_t n = xy.shape[0], ny = n - nx, l = Ag.shape[0], i, j
    cdef double alpha = params[0], beta = params[1], eta = params[2], g1 = params[3]
    cdef double g2 = params[4], c0 = params[5], p = params[6]
    cdef double ck, s, t, gap, stp
    cdef long k
    cdef bint converged = False
    cdef double[::1] zt = np.empty(n)          # (x, theta)
    cdef double[::1] th_n = np.empty(ny)
    cdef double[::1] lam_n = np.empty(l)
    cdef double[::1] gft = np.empty(n)
    cdef double[::1] gF = np.empty(n)
    cdef double[::1] gf = np.empty(n)
    cdef double[::1] w = np.empty(n)
    cdef double[::1] norms2 = np.empty(AC.shape[0])
    cdef double[::1] corr_rows = np.empty(AC.shape[0])
    cdef double[::1] corr_box = np.empty(n)
    cdef double[::1] z_old = np.empty(n)
    _norms2(AC, norms2)
    with nogil:
        for k in range(k0, k0 + iters):
            ck = c0 * pow(k + 1.0, p)
            # step 1 (theta, lambda) at (x, theta)
            for j in range(nx):
                zt[j] = xy[j]
            for j in range(ny):
                zt[nx + j] = theta[j]
            for i in range(nx, n):
                s = cf[i]
                for j in range(n):
                    s += Hf[i, j] * zt[j]
                gft[i] = s
            for j in range(ny):
                s = gft[nx + j] + (theta[j] - xy[nx + j]) / g1
                for i in range(l):
                    s += Ag[i, nx + j] * lam[i]
                t = theta[j] - eta * s
                if t < ylo[j]:
                    t = ylo[j]
                if t > yhi[j]:
                    t = yhi[j]
                th_n[j] = t
            for i in range(l):
                s = -bg[i]
                for j in range(n):
                    s += Ag[i, j] * zt[j]
                t = lam[i] + eta * (s - (lam[i] - zv[i]) / g2)
                if t < zlo[i]:
                    t = zlo[i]
                if t > zhi[i]:
                    t = zhi[i]
                lam_n[i] = t
            # step 2: gradients at (x, y) and grad_x f at (x, theta+)
            for j in range(ny):
                zt[nx + j] = th_n[j]
            for i in range(n):
                s = cF[i]
                t = cf[i]
                for j in range(n):
                    s += HF[i, j] * xy[j]
                    t += Hf[i, j] * xy[j]
                gF[i] = s
                gf[i] = t
            for i in range(nx):
                s = cf[i]
                for j in range(n):
                    s += Hf[i, j] * zt[j]
                gft[i] = s
            for j in range(nx):
                s = gF[j] / ck + gf[j] - gft[j]
                for i in range(l):
                    s -= Ag[i, j] * lam_n[i]
                w[j] = xy[j] - alpha * s
            for j in range(ny):
                s = gF[nx + j] / ck + gf[nx + j] - (xy[nx + j] - th_n[j]) / g1
                w[nx + j] = xy[nx + j] - alpha * s
            for i in range(l):
                t = zv[i] - beta * (zv[i] - lam_n[i]) / g2
                if t < zlo[i]:
                    t = zlo[i]
                if t > zhi[i]:
                    t = zhi[i]
                zv[i] = t
                lam[i] = lam_n[i]
            # step 3: projection onto C
            if not _in_poly(w, AC, bC, eqC, loC, upC):
                _dykstra(w, AC, bC, eqC, loC, upC, corr_rows, corr_box, z_old, norms2,
                         max_sweeps, dyk_tol)
            stp = 0.0
            gap = 0.0
            for j in range(n):
                stp += (w[j] - xy[j]) * (w[j] - xy[j])
                xy[j] = w[j]
            for j in range(ny):
                theta[j] = th_n[j]
                gap += (xy[nx + j] - theta[j]) * (xy[nx + j] - theta[j])
            stp = sqrt(stp) / alpha
            if stp <= tol and sqrt(gap) <= tol * 1e3:
                converged = True
                k += 1
                break
        else:
            k = k0 + iters
    state[0] = stp
    return k - k0, converged


def lvhba_toy_run(int which, double[::1] x, double[::1] y, double[::1] theta, double[::1] state,
                  long k0, long iters, double[::1] params, double tol):
    """Returns (iterations done, converged): stops early when ||(x, y)+ - (x, y)|| / alpha <= tol
    and ||y - theta|| <= 1e3 tol (the test of the NumPy path)."""
    cdef Py_ssize_t n = x.shape[0], j
    cdef double alpha = params[0], beta = params[1], eta = params[2], g1 = params[3]
    cdef double g2 = params[4], c0 = params[5], p = params[6], r = params[7]
    cdef double lam = state[0], zz = state[1], step = state[2]
    cdef double ck, inv_ck, sx, st, lam_n, gval, mean, tot, dx, dy1, dy2, t1, t2, nx_, ny1, ny2
    cdef double gFx, gFy1, gFy2, s1, s2, ad, gap
    cdef long k
    cdef bint converged = False
    cdef double N = 3.0 * n
    for k in range(k0, k0 + iters):
        ck = c0 * pow(k + 1.0, p)
        inv_ck = 1.0 / ck
        # step 1: theta+ = theta - eta (grad_y f(x, theta) + lambda 1 + (theta - y)/gamma1) (Y = R^m),
        # lambda+ = P_[-r, r](lambda + eta (g(x, theta) - (lambda - z)/gamma2))
        sx = 0.0
        st = 0.0
        for j in range(n):
            sx += x[j]
            st += theta[j] + theta[n + j]
        gval = sx + st
        for j in range(n):
            theta[j] = theta[j] - eta * ((theta[j] - x[j]) + lam + (theta[j] - y[j]) / g1)
            theta[n + j] = theta[n + j] - eta * (1.0 + lam + (theta[n + j] - y[n + j]) / g1)
        lam_n = lam + eta * (gval - (lam - zz) / g2)
        if lam_n < -r:
            lam_n = -r
        if lam_n > r:
            lam_n = r
        # step 2 and 3: directions, z update, projected step onto the hyperplane 1'(x, y) = 0
        tot = 0.0
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            if which == 0:
                gFx = x[j] - y[n + j]
                gFy1 = y[j] - 1.0
                gFy2 = y[n + j] - x[j]
            else:
                gFx = y[j] - 2.0
                gFy1 = x[j] - 1.0
                gFy2 = 2.0 * (y[n + j] + 3.0)
            dx = gFx * inv_ck - y[j] + theta[j] - lam_n
            dy1 = gFy1 * inv_ck + (y[j] - x[j]) - (y[j] - theta[j]) / g1
            dy2 = gFy2 * inv_ck + 1.0 - (y[n + j] - theta[n + j]) / g1
            nx_ = x[j] - alpha * dx
            ny1 = y[j] - alpha * dy1
            ny2 = y[n + j] - alpha * dy2
            tot += nx_ + ny1 + ny2
            ad = alpha * dx
            s1 += ad
            s2 += ad * ad
            ad = alpha * dy1
            s1 += ad
            s2 += ad * ad
            ad = alpha * dy2
            s1 += ad
            s2 += ad * ad
            x[j] = nx_
            y[j] = ny1
            y[n + j] = ny2
        zz = zz - beta * (zz - lam_n) / g2
        if zz < -r:
            zz = -r
        if zz > r:
            zz = r
        mean = tot / N
        lam = lam_n
        gap = 0.0
        for j in range(n):
            x[j] -= mean
            y[j] -= mean
            y[n + j] -= mean
            gap += (y[j] - theta[j]) * (y[j] - theta[j]) + (y[n + j] - theta[n + j]) * (y[n + j] - theta[n + j])
        t1 = s2 + 2.0 * mean * s1 + N * mean * mean
        step = sqrt(t1 if t1 > 0.0 else 0.0) / alpha
        if step <= tol and sqrt(gap) <= tol * 1e3:
            converged = True
            k += 1
            break
    else:
        k = k0 + iters
    state[0] = lam
    state[1] = zz
    state[2] = step
    return k - k0, converged
