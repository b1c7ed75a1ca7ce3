"""The stage function's scales and bounds, as plain integers (no torch: a process that only
reads states or certifies a model imports these alone; ``zkpot.pot.fixedpoint`` re-exports
them and says what each one keeps exact, docs/pot.md why)."""

A_FRAC, W_FRAC, G_FRAC, V_FRAC = 16, 20, 24, 32
ACT_MAX, W_MAX, G_MAX = 2**26, 2**24, 2**27          # saturation: 1024, 16 and 8 in value
MOMENTUM_MAX = 2**38      # |SGD momentum buffer| (Q24): reachable bound for momentum <= 0.999
ADAM_M_MAX, ADAM_V_MAX = G_MAX, 2**38                 # |m| (Q24) and v (Q32): convex combinations
RATIO_MAX = 2**22         # |m / (sqrt(v) + eps)| (Q16)
EXACT = 2**53             # largest partial sum (in units of the result's last bit) a float64 product may reach
SATURATE = 2**60          # mm_exact clamps its exact result to +-2^60
MAX_REDUCTION = 2**32     # longest reduction axis (batch x positions of a Conv2d weight gradient)
