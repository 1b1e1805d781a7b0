# PyTorch baselines for bench_elementwise's cases (same sizes), run in the same device call.
# Prints "RESULT <case>: <GB/s> GB/s". Median GPU time (CUDA events) of back-to-back calls, random inputs.
import sys, time, torch

dev = "cuda"
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 28
x = torch.rand(n, device=dev) + 0.5


def bench(fn, reps=20):
    # ~0.4 s of warm-up (clock and fresh allocations), then `reps` calls back to back, each
    # between two CUDA events: the median GPU time of one call, as descent's benchmarks time
    # their kernels with GPU timestamps (host launch and synchronisation costs count for neither).
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.4:
        fn()
        torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for s, e in zip(starts, ends):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    ts = sorted(s.elapsed_time(e) * 1e-3 for s, e in zip(starts, ends))
    return ts[len(ts) // 2]


b = 4 * n
y = torch.empty_like(x)
print(f"RESULT torch_copy: {2 * b / bench(lambda: y.copy_(x)) / 1e9:.1f} GB/s")
print(f"RESULT torch_chain: {2 * b / bench(lambda: torch.add(torch.maximum(x * 1.5 + 0.25, x * x - 1) * 0.5, x.sqrt(), out=y)) / 1e9:.1f} GB/s (eager, several kernels)")
for cols in (1024, 4096, 16384):
    t = x.view(n // cols, cols)
    print(f"RESULT torch_row_sum_{cols}: {(b + 4 * n // cols) / bench(lambda: t.sum(1)) / 1e9:.1f} GB/s")
    print(f"RESULT torch_row_max_{cols}: {(b + 4 * n // cols) / bench(lambda: t.amax(1)) / 1e9:.1f} GB/s")
t = x.view(n // 1024, 1024)
print(f"RESULT torch_col_sum_1024: {(b + 4 * 1024) / bench(lambda: t.sum(0)) / 1e9:.1f} GB/s")
q = n // 4
p, m, v, g = (torch.rand(q, device=dev) for _ in range(4))
opt_state = {}
def adam():
    m.mul_(0.9).add_(g, alpha=0.1)
    v.mul_(0.999).addcmul_(g, g, value=0.001)
    p.addcdiv_(m, v.sqrt().add_(1e-8), value=-0.001)
print(f"RESULT torch_adam_eager: {7 * 4 * q / bench(adam) / 1e9:.1f} GB/s (eager, several kernels)")
