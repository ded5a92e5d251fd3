* Every continuous bound type:
*   A  MI, UP -2                 -> -inf <= A <= -2 (a negative UP alone: see negative_up.mps)
*   B  MI                        -> -inf <= B (upper stays +inf)
*   C  PL                        ->    0 <= C
*   D  FR                        -> free
*   E  FX 3                      ->    E = 3
*   F  LO 1.5, UP 4              -> 1.5 <= F <= 4
*   G  UP 5                      ->    0 <= G <= 5
* min A - B + C + D + 2 E + F - G
*   R1: A - C >= -6,  R2: B + D <= 10,  R3: D - E = 1
* optimum -5.5 (A -6, B 6, C 0, D 4, E 3, F 1.5, G 5)
NAME          BOUNDS
ROWS
 N  OBJ
 G  R1
 L  R2
 E  R3
COLUMNS
    A         OBJ                1   R1                 1
    B         OBJ               -1   R2                 1
    C         OBJ                1   R1                -1
    D         OBJ                1   R2                 1
    D         R3                 1
    E         OBJ                2   R3                -1
    F         OBJ                1
    G         OBJ               -1
RHS
    RHS       R1                -6   R2                10
    RHS       R3                 1
BOUNDS
 MI BND       A
 UP BND       A                 -2
 MI BND       B
 PL BND       C
 FR BND       D
 FX BND       E                  3
 LO BND       F                1.5
 UP BND       F                  4
 UP BND       G                  5
ENDATA
