* OBJSENSE MAX with an objective constant (RHS 10 on the objective row: offset -10) and a
* negative RANGE on an E row (c2: RHS 1, R -4 -> -3 <= X - Y <= 1).
* max 3 X + 2 Y - Z - 10  s.t.  X + 2 Y <= 14,  -3 <= X - Y <= 1,  X + Z >= 2,  X <= 8
* optimum 44/3 (X 16/3, Y 13/3, Z 0)
NAME          MAXSENSE
OBJSENSE
    MAX
ROWS
 N  PROFIT
 L  C1
 E  C2
 G  C3
COLUMNS
    X         PROFIT             3   C1                 1
    X         C2                 1   C3                 1
    Y         PROFIT             2   C1                 2
    Y         C2                -1
    Z         PROFIT            -1   C3                 1
RHS
    RHS       PROFIT            10   C1                14
    RHS       C2                 1   C3                 2
RANGES
    RNG       C2                -4
BOUNDS
 UP BND       X                  8
ENDATA
