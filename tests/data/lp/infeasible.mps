* Infeasible: X + Y >= 5 and X + 2 Y <= 3 with X <= 2, Y >= 0.
NAME          INFEAS
ROWS
 N  COST
 G  LO
 L  HI
COLUMNS
    X         COST               1   LO                 1
    X         HI                 1
    Y         COST               1   LO                 1
    Y         HI                 2
RHS
    RHS       LO                 5   HI                 3
BOUNDS
 UP BND       X                  2
ENDATA
