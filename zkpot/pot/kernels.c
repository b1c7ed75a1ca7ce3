/* zkpot's fused optimiser kernels (zkpot/pot/kernels.py builds and loads this file).
 *
 * Each kernel is the numpy path of zkpot/pot/optim.py in one pass over the arrays: the same
 * float64 operations on the same exact integers, so the same bits. Every product and sum is
 * exact by the bounds the caller checks before it calls (docs/pot.md, "Bounds"), so neither
 * fused multiply-adds (-ffp-contract=off all the same) nor vector width can change a value.
 */
#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ZKPOT_CLONES __attribute__((target_clones("avx2", "sse4.1", "default")))
#else
#define ZKPOT_CLONES
#endif

static inline double clamp(double x, double bound) {
    return x > bound ? bound : (x < -bound ? -bound : x);
}

/* torch.optim.SGD (dampening 0) in Q24 over n elements, the float64 path of optim.sgd_step:
 *   g' = clamp(floor(g), +-gmax)                (the gradient rounded, saturated)
 *   buf = floor(buf * mu + 1/2) + g'            (when buf is not NULL; mu = mu_q * 2^-24)
 *   w = clamp(w - floor(buf * lr + 1/2), +-wmax)  (lr = lr_q * 2^-28; g' in place of buf without it)
 * Returns max |w| over the block when want_max, else 0. */
ZKPOT_CLONES
double zkpot_sgd(double *restrict w, const double *restrict g, double *restrict buf, int64_t n, double mu,
                 double lr, double gmax, double wmax, int want_max) {
    if (buf) {
        for (int64_t i = 0; i < n; i++) {
            double b = floor(buf[i] * mu + 0.5) + clamp(floor(g[i]), gmax);
            buf[i] = b;
            w[i] = clamp(w[i] - floor(b * lr + 0.5), wmax);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            w[i] = clamp(w[i] - floor(clamp(floor(g[i]), gmax) * lr + 0.5), wmax);
        }
    }
    double m = 0.0;
    if (want_max) {
        for (int64_t i = 0; i < n; i++) {
            double a = fabs(w[i]);
            m = a > m ? a : m;
        }
    }
    return m;
}

static inline int64_t rshift(int64_t x, int s) { return (x + ((int64_t)1 << (s - 1))) >> s; }

/* floor(a / b) for b > 0 (C's division truncates toward zero) */
static inline int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* fixedpoint.cross_entropy for b rows of c logits (Q16, float64 holding integers, row stride
 * ldz): per-sample losses (Q16, int64) and the gradient of the mean loss (Q24, written as
 * float64 into grad, row stride ldg), with the same tables and the same integer steps:
 *   m = max_j z_j; e_j = rshift(exp_hi[d >> 10] * exp_lo[d & 1023], 30), d = min(m - z_j, 2^20 - 1)
 *   s = sum e_j; loss = rshift(ln_q30(s), 14) + (m - z_label)
 *   p_j = floor(e_j * 2^24 / s) - [j == label] * 2^24; grad_j = floor((2 p_j + b) / (2 b))
 * Every intermediate is below 2^55 (fixedpoint.cross_entropy). e is c words of scratch. */
void zkpot_cross_entropy(const double *z, int64_t ldz, const int64_t *labels, int64_t b, int64_t c,
                         const int64_t *exp_hi, const int64_t *exp_lo, const int64_t *ln1p, int64_t ln2,
                         int64_t *losses, double *grad, int64_t ldg, int64_t *e) {
    for (int64_t r = 0; r < b; r++) {
        const double *zr = z + r * ldz;
        int64_t m = (int64_t)zr[0];
        for (int64_t j = 1; j < c; j++) {
            int64_t v = (int64_t)zr[j];
            m = v > m ? v : m;
        }
        int64_t s = 0;
        for (int64_t j = 0; j < c; j++) {
            int64_t d = m - (int64_t)zr[j];
            d = d > (1 << 20) - 1 ? (1 << 20) - 1 : d;
            e[j] = rshift(exp_hi[d >> 10] * exp_lo[d & 1023], 30);
            s += e[j];
        }
        /* ln_q30(s), 2^30 <= s < 2^41: ex = how many of 2^31 .. 2^41 are <= s */
        int64_t ex = 0;
        while (ex < 11 && ((int64_t)1 << (31 + ex)) <= s) ex++;
        int64_t f = (s >> ex) - ((int64_t)1 << 30);
        int64_t idx = f >> 20, rem = f & ((1 << 20) - 1);
        int64_t ln = ln1p[idx] + rshift((ln1p[idx + 1] - ln1p[idx]) * rem, 20) + ex * ln2;
        int64_t label = labels[r];
        losses[r] = rshift(ln, 14) + (m - (int64_t)zr[label]);
        double *gr = grad + r * ldg;
        for (int64_t j = 0; j < c; j++) {
            int64_t p = (e[j] << 24) / s;                 /* e, s > 0: truncation is the floor */
            if (j == label) p -= (int64_t)1 << 24;
            gr[j] = (double)floordiv(2 * p + b, 2 * b);
        }
    }
}
