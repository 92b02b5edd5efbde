"""PyTorch timings of DreamCache against a reference-U-Net baseline, on the weights that
make_sd15_pack.py wrote (the same numbers the ONNX pack holds).

    python3 bench/gpu/torch_bench.py --src WORK/sd-folder --json OUT.json [--device cuda] [--dtype float16]

Measured (median of --runs after warm-up; CUDA events on GPU):
- unet_b2: base model, batch 2 (plain classifier-free guidance; no adapters);
- unet_b3 / unet_b1: the base model at batch 3 (DreamCache's batch: the equal-batch reference for
  dreamcache_b3) and at batch 1 (one base call: the reference for cache_build_k1);
- dreamcache_b3_k{K}: batch 3 [e_u, e_i, e_c], gate [0, 1, 1], cache of K reference images;
- dreamcache_b3_k{K}_shared: the same call with e_u and e_i sharing the encoder (2 encoder rows fanned
  out to 3 by encoder_row [0, 0, 1], as the app does with packs whose graph takes encoder_row);
- cache_build_k{K}: VAE-encode K references + one U-Net pass collecting the cached features;
- vae_encode_k{K} / cache_pass_k{K}: the two halves of cache_build_k{K} alone: the VAE encode of
  the K references, and the U-Net pass on latents encoded and noised to t=1 beforehand (the
  method's "one U-Net pass" personalization cost, without the model-independent encode);
- reference_b{..}_k{K}: the BootPIG/JeDi-style baseline step — the reference latents, noised to
  the current timestep, run through a second U-Net of the same size once per branch that uses
  them (e_i with the empty prompt, e_c with the prompt: batch 2K), then the generation pass
  (batch 3) attends to those fresh features through the same adapter attention instead of a cache;
- image_*: a whole 50-step personalized image (text encoding, personalization, steps, VAE decode),
  e_u and e_i sharing the encoder as in the app;
- peak memory of each image (torch.cuda.max_memory_allocated).
With --cuda-graph the per-call numbers are also taken with the call captured in a CUDA graph."""
import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "training"))

import torch  # noqa: E402

from dreamcache.diffusers_sd import load_sd_folder, scheduler_settings  # noqa: E402
from dreamcache.models.attention import set_attention_backend  # noqa: E402
from dreamcache.sampler import combine, ddim_step, ddim_timesteps  # noqa: E402
from dreamcache.schedule import alphas_cumprod, q_sample  # noqa: E402


class Timer:
    def __init__(self, device: torch.device):
        self.device = device

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def measure(self, fn: Callable, runs: int, warmup: int) -> Dict:
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(runs):
            if self.device.type == "cuda":
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b))
            else:
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1e3)
        return {"median": statistics.median(times), "mean": statistics.fmean(times), "min": min(times), "runs": runs}


def graphed(fn: Callable) -> Callable:
    """fn captured in a CUDA graph (its inputs are fixed tensors it closes over)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


class Isolated:
    """A stage whose failure (making its inputs, or timing) is recorded under its name while the
    others still run. make() builds the inputs outside the timed region and returns the call."""

    def __init__(self, make: Callable[[], Callable]):
        self.make = make


class Bench:
    def __init__(self, a):
        self.a = a
        self.dev = torch.device(a.device)
        self.dtype = getattr(torch, a.dtype)
        if a.attention == "sdpa":
            set_attention_backend("sdpa")
        t = time.time()
        adapters = os.path.join(a.src, "adapters.safetensors")
        unet, vae, te, _ = load_sd_folder(a.src, adapters if os.path.isfile(adapters) else None)
        self.load_s = time.time() - t
        self.unet = unet.to(self.dev, self.dtype).eval()
        # The baseline's reference network: a second U-Net of the same size (BootPIG copies the base).
        self.ref_unet = copy.deepcopy(self.unet) if a.baseline else None
        self.vae, self.te = vae.to(self.dev, self.dtype).eval(), te.to(self.dev, self.dtype).eval()
        sch = scheduler_settings(a.src)
        self.acp = alphas_cumprod(sch["numTrainTimesteps"], sch["betaStart"], sch["betaEnd"], sch["betaSchedule"]).to(self.dev)
        self.down = vae.config.downsample
        self.size = a.size or unet.config.sample_size * self.down
        self.lat = self.size // self.down
        self.layers = self.unet.cache_layers(self.lat)
        self.L = te.config.max_position_embeddings
        self.timer = Timer(self.dev)
        g = torch.Generator().manual_seed(0)
        self.rand = lambda *s: torch.randn(*s, generator=g).to(self.dev, self.dtype)

    # --- pieces -------------------------------------------------------------------------------
    def encode_text(self, n_prompts: int):
        ids = torch.randint(0, self.te.config.vocab_size, (n_prompts, self.L)).to(self.dev)
        return self.te(ids)

    def build_cache(self, refs: torch.Tensor, ctx_empty: torch.Tensor) -> Dict[str, torch.Tensor]:
        """refs [K, 3, S, S] → {layer: [1, K·h·w, C]} (contract: subject noised to t=1, empty prompt)."""
        return self.cache_pass(*self.noised_for_cache(self.encode_refs(refs)), ctx_empty)

    def encode_refs(self, refs: torch.Tensor) -> torch.Tensor:
        return self.vae.encode_moments(refs)[0] * self.vae.config.scaling_factor

    def noised_for_cache(self, x0: torch.Tensor):
        t = torch.ones(x0.shape[0], dtype=torch.long, device=self.dev)
        return q_sample(x0.float(), t, torch.randn_like(x0.float()), self.acp).to(self.dtype), t

    def cache_pass(self, xt: torch.Tensor, t: torch.Tensor, ctx_empty: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The U-Net half of build_cache: noised reference latents → the cached features."""
        k = xt.shape[0]
        zero = {l["name"]: torch.zeros(1, 1, l["channels"], device=self.dev, dtype=self.dtype) for l in self.layers}
        _, feats = self.unet(xt, t.float(), ctx_empty.expand(k, -1, -1), torch.zeros(k, device=self.dev, dtype=self.dtype),
                             zero, return_features=True)
        return {n: f.reshape(1, -1, f.shape[-1]) for n, f in feats.items()}

    def reference_features(self, ref_lat: torch.Tensor, t: float, ctx_empty, ctx_prompt) -> Dict[str, torch.Tensor]:
        """Baseline: K reference latents at timestep t through the reference U-Net for the two
        branches that use them → per-row caches [3, K·h·w, C] for rows [e_u, e_i, e_c]."""
        k = ref_lat.shape[0]
        tt = torch.full((k,), int(t), dtype=torch.long, device=self.dev)
        xr = q_sample(ref_lat.float(), tt, torch.randn_like(ref_lat.float()), self.acp).to(self.dtype)
        ctx = torch.cat([ctx_empty.expand(k, -1, -1), ctx_prompt.expand(k, -1, -1)])
        zero = {l["name"]: torch.zeros(1, 1, l["channels"], device=self.dev, dtype=self.dtype) for l in self.layers}
        _, feats = self.ref_unet(torch.cat([xr, xr]), torch.full((2 * k,), float(t), device=self.dev), ctx,
                                 torch.zeros(2 * k, device=self.dev, dtype=self.dtype), zero, return_features=True)
        out = {}
        for n, f in feats.items():
            fi, fc = f[:k].reshape(1, -1, f.shape[-1]), f[k:].reshape(1, -1, f.shape[-1])
            out[n] = torch.cat([fi, fi, fc])  # row 0 (gate 0) ignores its cache
        return out

    def cache_pass_call(self, refs: torch.Tensor, ctx_empty: torch.Tensor) -> Callable:
        """cache_pass on these references, encoded and noised once here, outside the timed call."""
        xt, t = self.noised_for_cache(self.encode_refs(refs))
        return lambda: self.cache_pass(xt, t, ctx_empty)

    @property
    def shared_rows(self) -> torch.Tensor:
        """encoder_row of a DreamCache step: e_u and e_i continue encoder row 0, e_c row 1."""
        return torch.tensor([0, 0, 1], device=self.dev)

    def step_inputs(self, batch: int):
        x = self.rand(batch, self.unet.config.in_channels, self.lat, self.lat)
        ctx = self.rand(batch, self.L, self.te.config.hidden_size)
        t = torch.full((batch,), 500.0, device=self.dev)
        return x, t, ctx

    # --- measurements -------------------------------------------------------------------------
    def per_call(self, res: Dict):
        a = self.a
        x2, t2, c2 = self.step_inputs(2)
        x3, t3, c3 = self.step_inputs(3)
        gate3 = torch.tensor([0.0, 1.0, 1.0], device=self.dev, dtype=self.dtype)
        x1, t1, c1 = self.step_inputs(1)
        calls = {"unet_b2": lambda: self.unet(x2, t2, c2), "unet_b3": lambda: self.unet(x3, t3, c3),
                 "unet_b1": lambda: self.unet(x1, t1, c1)}
        for k in a.refs:
            cache = {l["name"]: self.rand(1, k * l["height"] * l["width"], l["channels"]) for l in self.layers}
            calls[f"dreamcache_b3_k{k}"] = (lambda cache=cache: self.unet(x3, t3, c3, gate3, cache))
            calls[f"dreamcache_b3_k{k}_shared"] = (lambda cache=cache: self.unet(
                x3[:1].expand(2, -1, -1, -1), t3[:2], c3[[0, 2]], gate3, cache, encoder_row=self.shared_rows))
            refs = self.rand(k, 3, self.size, self.size).clamp(-1, 1)
            empty = self.encode_text(1)
            calls[f"cache_build_k{k}"] = (lambda refs=refs, empty=empty: self.build_cache(refs, empty))
            calls[f"vae_encode_k{k}"] = Isolated(lambda refs=refs: (lambda: self.encode_refs(refs)))
            calls[f"cache_pass_k{k}"] = Isolated(lambda refs=refs, empty=empty: self.cache_pass_call(refs, empty))
            if a.baseline:
                ref_lat = self.rand(k, self.unet.config.in_channels, self.lat, self.lat)
                e1, p1 = c3[:1], c3[2:]

                def ref_step(ref_lat=ref_lat, e1=e1, p1=p1):
                    feats = self.reference_features(ref_lat, 500, e1, p1)
                    return self.unet(x3, t3, c3, gate3, feats)
                calls[f"reference_step_k{k}"] = ref_step
        with torch.no_grad():
            for name, fn in calls.items():
                if isinstance(fn, Isolated):
                    try:
                        fn = fn.make()
                        res[name] = self.timer.measure(fn, a.runs, a.warmup)
                    except Exception as err:
                        res[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
                        print(f"{name}: FAILED {res[name]['error']}", flush=True)
                        continue
                else:
                    res[name] = self.timer.measure(fn, a.runs, a.warmup)
                print(f"{name}: {res[name]['median']:.2f} ms", flush=True)
                if a.cuda_graph and self.dev.type == "cuda":
                    try:
                        res[name + "_cudagraph"] = self.timer.measure(graphed(fn), a.runs, a.warmup)
                        print(f"{name}_cudagraph: {res[name + '_cudagraph']['median']:.2f} ms", flush=True)
                    except Exception as err:  # capture can fail for ops that sync; record why
                        res[name + "_cudagraph"] = {"error": f"{type(err).__name__}: {err}"[:300]}

    def image(self, k: int, method: str) -> Dict:
        """One whole personalized image: method "dreamcache" or "reference" (baseline)."""
        steps = self.a.steps
        ts = ddim_timesteps(steps, self.acp.shape[0])
        ratio = self.acp.shape[0] // steps
        refs = self.rand(k, 3, self.size, self.size).clamp(-1, 1)
        gate = torch.tensor([0.0, 1.0, 1.0], device=self.dev, dtype=self.dtype)
        if self.dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        self.timer.sync()
        t0 = time.perf_counter()
        ctx2 = self.encode_text(2)
        empty, prompt = ctx2[:1], ctx2[1:]
        ctx = torch.cat([empty, prompt])
        if method == "dreamcache":
            cache = self.build_cache(refs, empty)
        else:
            ref_lat = self.vae.encode_moments(refs)[0] * self.vae.config.scaling_factor
        self.timer.sync()
        t_personal = time.perf_counter()
        x = torch.randn(1, self.unet.config.in_channels, self.lat, self.lat, device=self.dev)
        for t in ts:
            tt = torch.full((2,), float(t), device=self.dev)
            feats = cache if method == "dreamcache" else self.reference_features(ref_lat, t, empty, prompt)
            e = self.unet(torch.cat([x] * 2).to(self.dtype), tt, ctx, gate, feats, encoder_row=self.shared_rows).float()
            x = ddim_step(combine(e, "combined", 7.5, 1.0, 1), t, x, self.acp, ratio)
        self.timer.sync()
        t_steps = time.perf_counter()
        img = self.vae.decode((x / self.vae.config.scaling_factor).to(self.dtype))
        self.timer.sync()
        t1 = time.perf_counter()
        out = {"totalMs": (t1 - t0) * 1e3, "personalizeMs": (t_personal - t0) * 1e3,
               "stepsMs": (t_steps - t_personal) * 1e3, "decodeMs": (t1 - t_steps) * 1e3, "steps": steps,
               "finite": bool(torch.isfinite(img).all())}
        if self.dev.type == "cuda":
            out["peakMemoryMB"] = torch.cuda.max_memory_allocated() / 2 ** 20
        return out

    def run(self) -> Dict:
        a = self.a
        res: Dict = {"runtime": "torch", "torch": torch.__version__, "device": self.device_name(), "dtype": a.dtype,
                     "attention": a.attention, "imageSize": self.size, "loadS": self.load_s,
                     "unetParameters": sum(p.numel() for p in self.unet.parameters())}
        self.per_call(res)
        with torch.no_grad():
            methods = ["dreamcache"] + (["reference"] if a.baseline else [])
            for k in a.refs:
                for m in methods:
                    self.image(k, m)  # warm-up (allocator, kernels)
                    r = self.image(k, m)
                    res[f"image_{m}_k{k}"] = r
                    print(f"image_{m}_k{k}: {r['totalMs']:.0f} ms ({r['steps']} steps)", flush=True)
        res["complete"] = True
        return res

    def device_name(self) -> str:
        if self.dev.type == "cuda":
            # On a shared multi-GPU box the bus id proves which card ran (run_on_box.sh pins one
            # through CUDA_VISIBLE_DEVICES; pci_bus_id exists in torch >= 2.2).
            p = torch.cuda.get_device_properties(self.dev)
            bus = getattr(p, "pci_bus_id", None)
            where = f", PCI bus {bus:02x}" if isinstance(bus, int) else ""
            return f"{p.name} (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}{where})"
        return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="diffusers folder from make_sd15_pack.py")
    ap.add_argument("--json", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="float16 on CUDA, float32 on CPU by default")
    ap.add_argument("--attention", default="sdpa" if hasattr(torch.nn.functional, "scaled_dot_product_attention") else "math",
                    choices=["math", "sdpa"])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--refs", default="1,3")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--cuda-graph", action="store_true")
    a = ap.parse_args(argv)
    a.refs = [int(r) for r in a.refs.split(",")]
    a.dtype = a.dtype or ("float16" if a.device.startswith("cuda") else "float32")
    res = Bench(a).run()
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
