* Unbounded: min -X - Y  s.t.  X - Y <= 1,  Y - X <= 2,  X, Y >= 0  (the ray X = Y -> +inf).
NAME          UNBND
ROWS
 N  COST
 L  R1
 L  R2
COLUMNS
    X         COST              -1   R1                 1
    X         R2                -1
    Y         COST              -1   R1                -1
    Y         R2                 1
RHS
    RHS       R1                 1   R2                 2
ENDATA
