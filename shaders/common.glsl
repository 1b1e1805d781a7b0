// Prelude of every generated descent kernel: buffer-reference types, the run-info block, numerically
// safe tanh/sigmoid, and the counter-based random number hash. Must match src/util/rand_hash.hpp
// bit for bit (the reference interpreter computes the same numbers on the CPU).

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer DescentIn { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) writeonly buffer DescentOut { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer DescentIn4 { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) writeonly buffer DescentOut4 { vec4 v[]; };
// Two floats per access, for CPU devices: lavapipe reads a 64-bit scalar per lane about as cheaply
// as a 32-bit one, while a vec4 costs four separate per-lane accesses. (Whether a 64-bit store
// beats two 32-bit ones depends on the kernel: see pair_stores in src/codegen/generate.cpp.)
layout(buffer_reference, std430, buffer_reference_align = 8) readonly buffer DescentIn8 { uint64_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) writeonly buffer DescentOut8 { uint64_t v[]; };
// Per-run values written before each run: the seed, a +0.0 that the compiler cannot see through
// (lavapipe folds x + 0.0 to x even under NoContraction, which is wrong for x = -0), and the
// Environment's number of this run.
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer DescentRunInfo { uint seed; float zero; uint run; };
// The same buffer seen writable: `flags[kind]` collects failed device checks (one word per kind,
// one bit per check: src/graph/device_checks.hpp) and `first_failed_run` the lowest run number
// that failed one; the host reads and resets both at its next synchronisation.
layout(buffer_reference, std430, buffer_reference_align = 4) buffer DescentStatus { uint seed; float zero; uint run; uint first_failed_run; uint flags[2]; };

// Records a failed device check: status bit `bit` of word `kind`, and this run's number.
void descent_fail(uint kind, uint bit, DescentRunInfo run) {
  DescentStatus status = DescentStatus(uint64_t(run));
  atomicOr(status.flags[kind], bit);
  atomicMin(status.first_failed_run, run.run);
}

// An index that must stay below `limit` (all three u32 bits): out-of-range sets status bit `bit`
// of the index word (src/graph/device_checks.hpp says which check it names).
float descent_check_index(float a, float limit, float bit, DescentRunInfo run) {
  if (floatBitsToUint(a) >= floatBitsToUint(limit)) descent_fail(0u, floatBitsToUint(bit), run);
  return a;
}

// NaN or +-Inf (all exponent bits set: a bit test, so no float mode can fold it away) sets status
// bit `bit` of the non-finite word.
float descent_check_finite(float a, float bit, DescentRunInfo run) {
  if ((floatBitsToUint(a) & 0x7f800000u) == 0x7f800000u) descent_fail(1u, floatBitsToUint(bit), run);
  return a;
}

// tanh(a) = sign(a) (1 - e^{-2|a|}) / (1 + e^{-2|a|}): e^{-2|a|} <= 1, so nothing overflows.
float descent_tanh(float a) {
  precise float e = exp(-2.0 * abs(a));
  precise float t = (1.0 - e) / (1.0 + e);
  return a < 0.0 ? -t : t;
}

// sigmoid(a) = 1 / (1 + e^{-a}); e^{-a} overflowing to +inf gives exactly 0, never NaN.
float descent_sigmoid(float a) {
  precise float e = exp(-a);
  return 1.0 / (1.0 + e);
}

// erf(a): for |a| < 0.5 the Taylor series x (2/sqrt(pi)) sum (-x^2)^n / (n! (2n + 1)) to n = 7
// (truncation < 1e-9 relative); above, 1 - erfc(|a|) with Numerical Recipes' erfcc (relative
// error < 1.2e-7 on erfc, at most ~2 ulp of erf at the switch), with the sign of a.
float descent_erf(float a) {
  precise float x = abs(a);
  if (x < 0.5) {
    precise float z = a * a;
    precise float s = ((((((-z / 75600.0 + 1.0 / 9360.0) * z - 1.0 / 1320.0) * z + 1.0 / 216.0) * z - 1.0 / 42.0) * z +
           1.0 / 10.0) * z - 1.0 / 3.0) * z + 1.0;
    return a * 1.1283791670955126 * s;
  }
  precise float t = 1.0 / (1.0 + 0.5 * x);
  precise float p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                    t * (-0.82215223 + t * 0.17087277))))))));
  precise float erfc = t * exp(-x * x + p);
  precise float r = 1.0 - erfc;
  return a < 0.0 ? -r : r;
}

// "lowbias32" integer hash (C. Wellons), a bijection on 32-bit words.
uint descent_hash(uint x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// Uniform [0, 1) from (run seed, stream uid, element index): the top 24 bits of a chained hash,
// scaled by 2^-24, so every value is exact in float32 and 1.0 never occurs.
float descent_rand(uint seed, uint uid, uint index) {
  uint h = descent_hash(descent_hash(descent_hash(seed) ^ (uid * 0x9e3779b9u)) ^ index);
  return float(h >> 8) * (1.0 / 16777216.0);
}

// Running maximum for reductions: commutative and associative for every input (+0 beats -0; any
// NaN gives the canonical quiet NaN 0x7fc00000, whichever NaN payload came first), so any
// combination tree gives the same bits. Must match reduce_max_step in src/ref/interpreter.cpp.
float descent_max(float acc, float v) {
  if (isnan(acc) || isnan(v)) return uintBitsToFloat(0x7fc00000u);
  if (v == acc) return uintBitsToFloat(floatBitsToUint(acc) & floatBitsToUint(v));
  return v > acc ? v : acc;
}

// pow(a, b) with the special cases of C's pow(): GLSL's pow is undefined for a < 0 and for a == 0
// with b <= 0, so it only ever sees |a| > 0 finite and b finite. Every other case is decided here.
float descent_pow(float a, float b) {
  if (b == 0.0 || a == 1.0) return 1.0;
  if (isnan(a) || isnan(b)) return uintBitsToFloat(0x7fc00000u);
  const float inf = uintBitsToFloat(0x7f800000u);
  float m = abs(a);
  bool b_int = floor(b) == b;  // +-inf count as even integers
  bool b_odd = b_int && abs(b) < 16777216.0 && fract(b * 0.5) != 0.0;
  if (a < 0.0 && !isinf(a) && !b_int) return uintBitsToFloat(0x7fc00000u);
  float r;
  if (isinf(b)) r = m == 1.0 ? 1.0 : ((m < 1.0) == (b < 0.0) ? inf : 0.0);
  else if (m == 0.0) r = b > 0.0 ? 0.0 : inf;
  else if (isinf(m)) r = b > 0.0 ? inf : 0.0;
  else r = pow(m, b);
  return (b_odd && (floatBitsToUint(a) >> 31) != 0u) ? -r : r;
}
