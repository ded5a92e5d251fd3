* An objective constant given as the RHS of the objective row (offset = -RHS = 12.5) and two
* free (N) rows besides the objective, which are dropped.
* min -3 X - 2 Y + 12.5  s.t.  X + Y <= 4,  X - Y >= -1,  0 <= X <= 3,  Y >= 0
* optimum 1.5 (X 3, Y 1)
NAME          OBJCONST
ROWS
 N  COST
 N  FREE1
 L  C1
 N  FREE2
 G  C2
COLUMNS
    X         COST              -3   FREE1              5
    X         C1                 1   C2                 1
    Y         COST              -2   FREE2             -7
    Y         C1                 1   C2                -1
RHS
    RHS       COST           -12.5   C1                 4
    RHS       C2                -1
BOUNDS
 UP BND       X                  3
ENDATA
