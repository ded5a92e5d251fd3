* A negative UP bound on a column with no lower bound. MPS readers differ: CPLEX-style readers set
* the lower bound to -inf (then the optimum is -6 at A = -6), HiGHS 1.16 and OR-Tools 9.15 keep
* the default lower bound 0, so 0 <= A <= -2 and the LP is infeasible.
* min A + C  s.t.  R1: A - C >= -6,  C >= 0
NAME          NEGUP
ROWS
 N  OBJ
 G  R1
COLUMNS
    A         OBJ                1   R1                 1
    C         OBJ                1   R1                -1
RHS
    RHS       R1                -6
BOUNDS
 UP BND       A                 -2
ENDATA
