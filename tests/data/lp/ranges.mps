* RANGES on E, L and G rows, with both signs on the E rows:
*   E1: RHS 4, R  2 -> 4 <= X + Y <= 6
*   E2: RHS 5, R -3 -> 2 <= Y + Z <= 5
*   L1: RHS 8, R  3 -> 5 <= X + Z <= 8
*   G1: RHS 1, R -2 -> 1 <= X - W <= 3   (|R| on L and G rows)
* min X + 2 Y - Z - 3 W, W <= 10; optimum -11 (X 6, Y 0, Z 2, W 5)
NAME          RANGES
ROWS
 N  COST
 E  E1
 E  E2
 L  L1
 G  G1
COLUMNS
    X         COST               1   E1                 1
    X         L1                 1   G1                 1
    Y         COST               2   E1                 1
    Y         E2                 1
    Z         COST              -1   E2                 1
    Z         L1                 1
    W         COST              -3   G1                -1
RHS
    RHS       E1                 4   E2                 5
    RHS       L1                 8   G1                 1
RANGES
    RNG       E1                 2   E2                -3
    RNG       L1                 3   G1                -2
BOUNDS
 UP BND       W                 10
ENDATA
