"""Shared training plumbing: DDP setup, EMA, time-boxed resumable runs, split weight files."""
import contextlib
import io
import json
import os
import time
from typing import Dict, Iterator, List, Optional

import torch
import torch.distributed as dist


class Dist:
    """Rank/world from torchrun's environment; a plain single process otherwise."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(self.local)
            self.device = torch.device("cuda", self.local)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        ids = [self.local] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def mean(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], device=self.device, dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on one (keeps ranks stopping at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def setup_fast_math():
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int):
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up: early EMA follows the weights
        shadow, current = [], []
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                shadow.append(self.shadow[k])
                current.append(v.detach().float())
            else:
                self.shadow[k].copy_(v)
        # One fused launch per op over all tensors, not two per tensor: this runs every step.
        torch._foreach_mul_(shadow, d)
        torch._foreach_add_(shadow, current, alpha=1 - d)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


class TimeBox:
    """Stops a run before its command's limit; the caller checkpoints then."""

    def __init__(self, minutes: float):
        self.t0 = time.time()
        self.limit = minutes * 60.0

    def elapsed(self) -> float:
        return time.time() - self.t0

    def over(self) -> bool:
        return self.elapsed() >= self.limit


def save_split(state: Dict[str, torch.Tensor], folder: str, stem: str, max_bytes: int = 15 * 1024 * 1024,
               dtype: Optional[torch.dtype] = torch.bfloat16) -> List[str]:
    """torch.save a state dict (floats cast to dtype) as parts of at most max_bytes, so each
    file fits the GPU box's return limit. Returns the part file names."""
    buf = io.BytesIO()
    torch.save({k: (v.to(dtype) if (dtype is not None and v.dtype.is_floating_point) else v).cpu()
                for k, v in state.items()}, buf)
    data = buf.getvalue()
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        if old.startswith(stem + ".part"):
            os.remove(os.path.join(folder, old))
    names = []
    for i in range(0, max(1, (len(data) + max_bytes - 1) // max_bytes)):
        n = f"{stem}.part{i:02d}"
        with open(os.path.join(folder, n), "wb") as f:
            f.write(data[i * max_bytes:(i + 1) * max_bytes])
        names.append(n)
    return names


def load_split(folder: str, stem: str) -> Dict[str, torch.Tensor]:
    parts = sorted(n for n in os.listdir(folder) if n.startswith(stem + ".part"))
    if not parts:
        raise FileNotFoundError(f"no {stem}.partNN files in {folder}")
    data = b"".join(open(os.path.join(folder, n), "rb").read() for n in parts)
    return torch.load(io.BytesIO(data), map_location="cpu")


def load_split_meta(folder: str, name: str) -> Optional[dict]:
    """The run's `name` (e.g. adapters.json) for weight parts in `folder`: beside them (committed
    checkpoints) or, for a trainer's own layout (out/name + out/weights/*.partNN), one folder up;
    None when there is none."""
    paths = [os.path.join(folder, name)]
    if os.path.basename(os.path.normpath(folder)) == "weights":
        paths.append(os.path.join(os.path.dirname(os.path.normpath(folder)), name))
    for p in paths:
        if os.path.isfile(p):
            return json.load(open(p))
    return None


class Checkpoint:
    """Full training state in `folder/state.pt` (model, EMA, optimizer, step), rank 0 writes."""

    def __init__(self, folder: str):
        self.folder = folder
        self.path = os.path.join(folder, "state.pt")

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def save(self, **state):
        os.makedirs(self.folder, exist_ok=True)
        tmp = self.path + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.path)

    def load(self, device) -> Dict:
        return torch.load(self.path, map_location=device)

    def resume(self, device, model: torch.nn.Module, opt, ema: "EMA", extras: Optional[Dict] = None) -> int:
        """Restores model, optimizer and EMA when a checkpoint exists; returns the step (0 if none).
        extras: {key: object with load_state_dict} saved beside them (a discriminator and its
        optimizer); a key the checkpoint lacks (one written before the object existed) starts fresh."""
        if not self.exists():
            return 0
        s = self.load(device)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        ema.shadow = s["ema"]
        for key, obj in (extras or {}).items():
            if key in s:
                obj.load_state_dict(s[key])
        return s["step"]


class Log:
    def __init__(self, folder: str, enabled: bool):
        self.enabled = enabled
        self.path = os.path.join(folder, "log.jsonl")
        if enabled:
            os.makedirs(folder, exist_ok=True)

    def write(self, **row):
        if not self.enabled:
            return
        row["time"] = round(time.time(), 1)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def seeded_generator(seed: int, rank: int, step: int, device) -> torch.Generator:
    """Per-rank, per-step data seed: resumed runs continue with fresh, reproducible batches."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + rank * 7919 + step) % (2 ** 63 - 1))
    return g


def cycle_lr(step: int, base_lr: float, warmup: int) -> float:
    return base_lr * min(1.0, (step + 1) / max(1, warmup))


def cooldown(step: int, start, steps: int, final: float) -> float:
    """lr factor of a linear cool-down: 1 before step `start` (None: never), then down to `final`
    over `steps` steps, then `final`: the usual end of a constant-lr run (for the adapters, with their
    EMA of 0.999, it measured no gain: docs/training.md, session 15). In absolute steps, so a run
    chunked into resumed calls follows one schedule."""
    if start is None or step < start:
        return 1.0
    return 1.0 - (1.0 - final) * min(1.0, (step - start) / max(1, steps))


def param_groups_no_decay(params: Iterator[torch.nn.Parameter], weight_decay: float):
    decay, no_decay = [], []
    for p in params:
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def add_echo_args(ap, frozen: str, compiled: str):
    """--reuse K (data echoing) and --compile, as every trainer whose data and frozen passes cost more than
    its update takes them. frozen: what runs once per K updates; compiled: what torch.compile wraps."""
    ap.add_argument("--reuse", type=int, default=1,
                    help=f"training steps per generated batch, each with fresh timesteps and noise (data echoing: "
                         f"the generator and {frozen} run once per K updates, so K > 1 buys more updates per minute)")
    ap.add_argument("--compile", action="store_true",
                    help=f"torch.compile {compiled} for the training passes (PyTorch 2 or newer; the first steps "
                         "pay the compile time)")


def check_echo_args(ap, a):
    """Refuses --reuse < 1 and --compile without torch.compile (Debian's torch 1.13) before anything loads."""
    if a.compile and not hasattr(torch, "compile"):
        ap.error(f"--compile needs PyTorch 2 or newer (this is {torch.__version__})")
    if a.reuse < 1:
        ap.error("--reuse must be >= 1")


class PhaseTimer:
    """Where a step's time goes (generator, frozen passes, training update), in ms. Devices are
    synchronised only on the sampled steps (by default those whose log line follows), so the rest
    of the run pays nothing for the profile. The latest sample is what the next log line reports."""

    def __init__(self, device, every: int):
        self.cuda = torch.device(device).type == "cuda"
        self.every = every
        self.on = False
        self.ms: Dict[str, float] = {}

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def start(self, step: int, sample: Optional[bool] = None):
        self.on = (self.every > 0 and (step + 1) % self.every == 0) if sample is None else sample
        if self.on:
            self.ms = {}
            self.t = self._now()

    def mark(self, name: str):
        if self.on:
            now = self._now()
            self.ms[name] = (now - self.t) * 1000.0
            self.t = now

    def fields(self) -> Dict[str, float]:
        return {f"ms_{k}": round(v, 1) for k, v in self.ms.items()}


class StepLoop:
    """The end of every training step, shared by the trainers: optimizer update with clipping and
    EMA, logging, one stop decision for all ranks (time box or step cap), periodic checkpoints."""

    def __init__(self, d: Dist, box: TimeBox, log: Log, ck: Checkpoint, max_steps: int, log_every: int,
                 ckpt_every_min: float = float("inf")):
        self.d, self.box, self.log, self.ck = d, box, log, ck
        self.max_steps, self.log_every, self.ckpt_every = max_steps, log_every, ckpt_every_min * 60
        self.last_ck = box.elapsed()

    def update(self, loss, opt, params, ema: EMA, module: torch.nn.Module, step: int, clip: float = 1.0) -> int:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        ema.update(module, step)
        return step + 1

    def finish(self, step: int, state, **logged) -> bool:
        """Logs, checkpoints when due or stopping (state() builds the checkpoint dict on rank 0);
        returns True when every rank must stop. Logged values may be 0-dim tensors: they are read
        only on log steps, as reading one waits for the GPU, and a step that waits cannot queue the
        next step's work while the GPU still runs this one's. A value that costs work of its own may be
        a function of no arguments, called on log steps only."""
        if step % self.log_every == 0:
            self.log.write(step=step, **{k: self.d.mean(float(v() if callable(v) else v)) for k, v in logged.items()},
                           sec=round(self.box.elapsed(), 1))
        stop = self.d.any(self.box.over() or step >= self.max_steps)
        if self.d.main and (stop or self.box.elapsed() - self.last_ck > self.ckpt_every):
            self.ck.save(**state())
            self.last_ck = self.box.elapsed()
        return stop
