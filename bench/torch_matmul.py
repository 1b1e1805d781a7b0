# cuBLAS FP32 (TF32 off) and FP16 baselines for bench_matmul, same sizes, same call.
import sys, time, torch

torch.backends.cuda.matmul.allow_tf32 = False


def bench(fn, reps):
    # Warm up for ~0.4 s so the GPU is at its working clock (an idle H100 drops to 345-1110 MHz).
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.4:
        fn()
        torch.cuda.synchronize()
    # Then `reps` calls back to back, each between two CUDA events: the median GPU time of one
    # call, like bench_matmul's timestamps around each dispatch (host launch and synchronisation
    # costs are not counted against either side).
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for s, e in zip(starts, ends):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    ts = sorted(s.elapsed_time(e) * 1e-3 for s, e in zip(starts, ends))
    return ts[len(ts) // 2]


for n in [int(x) for x in sys.argv[1:]] or [1024, 2048, 4096, 8192]:
    for dt, name in [(torch.float32, "fp32"), (torch.float16, "fp16")]:
        a = torch.rand(n, n, device="cuda", dtype=dt) * 2 - 1
        b = torch.rand(n, n, device="cuda", dtype=dt) * 2 - 1
        t = bench(lambda: a @ b, 10 if n >= 8192 else 20)
        print(f"RESULT torch_matmul_{name}_{n}: {2 * n ** 3 / t / 1e12:.2f} TFLOP/s")
    # From float32 data: convert both operands to float16, then the FP16 product (what descent's
    # float16-input path does end to end: packing kernels plus the product).
    a = torch.rand(n, n, device="cuda") * 2 - 1
    b = torch.rand(n, n, device="cuda") * 2 - 1
    t = bench(lambda: a.half() @ b.half(), 10 if n >= 8192 else 20)
    print(f"RESULT torch_matmul_fp32_to_fp16_{n}: {2 * n ** 3 / t / 1e12:.2f} TFLOP/s")
