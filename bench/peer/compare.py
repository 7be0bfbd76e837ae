"""Our selective scan against the public mamba-ssm CUDA kernel, side by side in one process on one GPU.

Usage (GPU host): python bench/peer/compare.py <mamba_ssm sdist dir> <librepro_kernels.so> [--json out.json]
                  [--builds STAGING:BWD,...]   e.g. elements:regs,quads:smem6 (kernels/info.hpp: REPRO_SCAN_STAGING,
                  REPRO_SCAN_BWD), each of ours timed in the same process beside the peer; default: the environment's (unset: quads:smem6)

mamba-ssm has no wheel on PyPI, so its sdist is carried here (`.peer/`, fetched from PyPI, not committed) and only
its selective-scan extension is compiled, for this GPU's architecture only, with the flags of its setup.py. Its
Python package is not imported (it needs triton/einops and more); its autograd Function is mirrored below the way
mamba_ssm/ops/selective_scan_interface.py calls the extension. Each kernel gets inputs in its own layout:
mamba-ssm [B, D, L] with delta in the input dtype, ours [B, L, D] with fp32 delta (as our Mamba mixer calls it).
"""
import argparse, json, os, sys, time
import torch
from torch.utils.cpp_extension import load

p = argparse.ArgumentParser()
p.add_argument("sdist"); p.add_argument("ours"); p.add_argument("--json"); p.add_argument("--iters", type=int, default=20)
p.add_argument("--build-only", action="store_true", help="compile the peer extension (cached in $PEER_BUILD) and stop")
p.add_argument("--builds", help="our scan's builds to time, STAGING:BWD comma-separated (elements|quads : regs|smem5|smem6)")
a = p.parse_args()
env_build = f"{os.environ.get('REPRO_SCAN_STAGING') or 'quads'}:{os.environ.get('REPRO_SCAN_BWD') or 'smem6'}"
builds = (a.builds or env_build).split(",")
for b in builds:
    st, _, bw = b.partition(":")
    if st not in ("elements", "quads") or bw not in ("regs", "smem5", "smem6"):
        sys.exit(f"compare.py: --builds: expected STAGING:BWD with STAGING elements|quads and BWD regs|smem5|smem6, got '{b}'")


def use_build(b):  # read by librepro_kernels at every call
    st, _, bw = b.partition(":")
    os.environ["REPRO_SCAN_STAGING"], os.environ["REPRO_SCAN_BWD"] = st, bw

t0 = time.time()
cc = torch.cuda.get_device_capability()
arch = f"{cc[0]}{cc[1]}"
src = os.path.join(a.sdist, "csrc", "selective_scan")
files = ["selective_scan.cpp"] + sorted(f for f in os.listdir(src) if f.endswith(".cu"))
flags = ["-O3", "-std=c++17", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
         "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__", "-U__CUDA_NO_BFLOAT162_OPERATORS__",
         "-U__CUDA_NO_BFLOAT162_CONVERSIONS__", "--expt-relaxed-constexpr", "--expt-extended-lambda",
         "--use_fast_math", "-lineinfo", f"-gencode=arch=compute_{arch},code=sm_{arch}", "--threads", "4"]
os.environ.setdefault("MAX_JOBS", str(os.cpu_count()))
peer = load("selective_scan_cuda", [os.path.join(src, f) for f in files], extra_cflags=["-O3", "-std=c++17"],
            extra_cuda_cflags=flags, build_directory=os.environ.get("PEER_BUILD", None), verbose=False)
build_s = time.time() - t0
if a.build_only:
    print(f"mamba-ssm selective_scan_cuda built for sm_{arch} in {build_s:.0f} s")
    sys.exit(0)
torch.ops.load_library(a.ours)
ours = torch.ops.repro.selective_scan


class PeerScan(torch.autograd.Function):  # as mamba_ssm's SelectiveScanFn (z given, no return_last_state)
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, bias):
        out, x, *rest = peer.fwd(u, delta, A, B, C, D, z, bias, True)
        ctx.save_for_backward(u, delta, A, B, C, D, z, bias, x, out)
        return rest[0]

    @staticmethod
    def backward(ctx, dout):
        u, delta, A, B, C, D, z, bias, x, out = ctx.saved_tensors
        if dout.stride(-1) != 1:
            dout = dout.contiguous()
        du, ddelta, dA, dB, dC, dD, dbias, dz = peer.bwd(u, delta, A, B, C, D, z, bias, dout, x, out, None, True, False)
        return du, ddelta, dA, dB, dC, dD, dz, dbias


def median_ms(f):
    for _ in range(3):
        f()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ms = []
    for _ in range(a.iters):
        s.record(); f(); e.record(); e.synchronize(); ms.append(s.elapsed_time(e))
    return sorted(ms)[len(ms) // 2]


def timed(fn, leaves):
    fwd = median_ms(fn)
    y = fn(); gy = torch.randn_like(y)
    bwd = median_ms(lambda: torch.autograd.grad(y, leaves, gy, retain_graph=True))
    return fwd, bwd


rows = []
dev = torch.cuda.get_device_name()
# The shapes of repro-bench-kernels: Mamba-130M's layer at L = 512 and a longer one, then the Achilles tasks' (fp32).
cases = [(B_, L_, 1536, 16, dt) for (B_, L_) in [(64, 512), (16, 2048)] for dt in [torch.bfloat16, torch.float32]]
cases += [(2048, 9, 64, 128, torch.float32), (1024, 29, 256, 128, torch.float32)]
for (Bsz, L, D, N, dt) in cases:
    g = torch.Generator(device="cuda").manual_seed(0)
    r = lambda *s: torch.randn(*s, device="cuda", generator=g)
    x, z, Bm, Cm = r(Bsz, L, D), r(Bsz, L, D), r(Bsz, L, N), r(Bsz, L, N)
    delta = r(Bsz, L, D) * 0.5 - 1
    A, Dk, bias = -torch.exp(r(D, N) * 0.3), r(D), r(D) * 0.1
    mine = [t.clone().requires_grad_() for t in (x.to(dt), delta, A, Bm.to(dt), Cm.to(dt), Dk, z.to(dt), bias)]
    theirs = [mine[0].detach().transpose(1, 2).contiguous(), delta.to(dt).transpose(1, 2).contiguous(),
              A.clone(), mine[3].detach().transpose(1, 2).contiguous().unsqueeze(1),
              mine[4].detach().transpose(1, 2).contiguous().unsqueeze(1),
              Dk.clone(), mine[6].detach().transpose(1, 2).contiguous(), bias.clone()]
    theirs = [t.requires_grad_() for t in theirs]
    name = f"selective_scan B={Bsz} L={L} D={D} N={N} {'bf16' if dt == torch.bfloat16 else 'fp32'}"
    yt = PeerScan.apply(*theirs).transpose(1, 2)
    ft, bt = timed(lambda: PeerScan.apply(*theirs), theirs)
    peer_row = {"case": name, "impl": "mamba-ssm 2.3.2.post1", "fwd_ms": ft, "bwd_ms": bt, "total_ms": ft + bt}
    rows.append(peer_row)
    print(f"{name:<44} {peer_row['impl']:<34} fwd {ft:8.3f}  bwd {bt:8.3f}  total {ft + bt:8.3f} ms")
    # The backward builds differ at d_state 16 only: elsewhere one build per staging.
    seen = set()
    for b in builds:
        if N != 16 and b.partition(":")[0] in seen:
            continue
        seen.add(b.partition(":")[0])
        use_build(b)
        # Same function: compare outputs once (theirs in [B, D, L]).
        yo = ours(*mine[:6], mine[6], mine[7], True)
        err = ((yo.float() - yt.float()).abs().max() / yt.float().abs().max()).item()
        fo, bo = timed(lambda: ours(*mine[:6], mine[6], mine[7], True), mine)
        impl = f"ours ({b})"
        rows.append({"case": name, "impl": impl, "build": b, "fwd_ms": fo, "bwd_ms": bo, "total_ms": fo + bo,
                     "speed_ratio_peer_over_ours": (ft + bt) / (fo + bo), "max_rel_output_diff": err})
        print(f"{name:<44} {impl:<34} fwd {fo:8.3f}  bwd {bo:8.3f}  total {fo + bo:8.3f} ms"
              f"  peer/ours {(ft + bt) / (fo + bo):.2f}x  max rel diff {err:.1e}")
doc = {"device": dev, "git": os.environ.get("REPRO_GIT_SHA", "unknown"),
       "versions": {"torch": torch.__version__, "cuda": torch.version.cuda}, "peer": "mamba-ssm 2.3.2.post1 (sdist)",
       "ours_builds": builds,
       "peer_build_seconds": build_s, "iters": a.iters, "rows": rows}
if a.json:
    json.dump(doc, open(a.json, "w"), indent=2)
