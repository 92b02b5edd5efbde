"""Float64 reference for the TypeScript schedulers (src/runtime/schedulers.ts).

Written from the papers, independently of the TypeScript code:
- betas: DDPM (Ho et al. 2020) linear; LDM/SD "scaled_linear" = linspace(sqrt(b0), sqrt(b1))^2.
- DDIM (Song et al. 2021, eq. 12 with eta = 0):
  x_prev = sqrt(a_prev) * x0_hat + sqrt(1 - a_prev) * eps,  x0_hat = (x - sqrt(1 - a) eps) / sqrt(a).
  Timesteps "leading" with steps_offset 1, previous alpha of the last step = alphas_cumprod[0]
  (Stable Diffusion 1.5's scheduler config: set_alpha_to_one false, steps_offset 1).
- DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2, data prediction, midpoint form): lambda = log(alpha/sigma),
  first step and final step first order, final sigma 0; timesteps "linspace" over [0, T-1]
  (the default spacing of that solver when run on SD 1.5's config).
A toy deterministic "model" eps(x, t) drives whole trajectories, so the multistep history is tested too.

Run: /usr/bin/python3 src/runtime/__fixtures__/make_scheduler_fixtures.py
"""
import json
import os

import numpy as np


def betas_for(schedule, b0, b1, T):
    if schedule == "linear":
        return np.linspace(b0, b1, T, dtype=np.float64)
    if schedule == "scaled_linear":
        return np.linspace(np.sqrt(b0), np.sqrt(b1), T, dtype=np.float64) ** 2
    raise ValueError(schedule)


def alphas_cumprod(cfg):
    b = betas_for(cfg["betaSchedule"], cfg["betaStart"], cfg["betaEnd"], cfg["numTrainTimesteps"])
    return np.cumprod(1.0 - b)


def toy_eps(x, t):
    k = np.arange(x.size, dtype=np.float64)
    return np.sin(0.7 * x + t / 1000.0 + k) * 0.9 + 0.1 * np.cos(1.3 * k + 0.002 * t)


def ddim_timesteps(T, n, offset=1):
    ratio = T // n
    return [int(v) + offset for v in (np.arange(n) * ratio).round()[::-1]], ratio


def ddim_run(cfg, n, x):
    ac = alphas_cumprod(cfg)
    T = cfg["numTrainTimesteps"]
    ts, ratio = ddim_timesteps(T, n)
    final = ac[0]
    traj, x0s = [], []
    for t in ts:
        eps = toy_eps(x, t)
        a = ac[t]
        prev = t - ratio
        a_prev = ac[prev] if prev >= 0 else final
        x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
        x = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps
        traj.append(x.tolist())
        x0s.append(x0.tolist())
    return ts, traj, x0s


def dpm_timesteps(T, n):
    return [int(v) for v in np.linspace(0, T - 1, n + 1).round()[::-1][:-1]]


def dpm_run(cfg, n, x):
    ac = alphas_cumprod(cfg)
    T = cfg["numTrainTimesteps"]
    ts = dpm_timesteps(T, n)
    # noise-to-signal sigma per step, then 0 after the last step
    sig = [np.sqrt((1 - ac[t]) / ac[t]) for t in ts] + [0.0]

    def alpha_sigma(s):
        alpha = 1.0 / np.sqrt(s * s + 1.0)
        return alpha, s * alpha

    def lam(s):
        alpha, sigma = alpha_sigma(s)
        return np.log(alpha) - np.log(sigma)

    traj, x0s = [], []
    prev_x0 = None
    for i, t in enumerate(ts):
        eps = toy_eps(x, t)
        a_s, s_s = alpha_sigma(sig[i])
        x0 = (x - s_s * eps) / a_s
        last = i == len(ts) - 1
        if sig[i + 1] == 0.0:
            # alpha_t = 1, sigma_t = 0, exp(-h) = 0: the step lands on x0 exactly
            x_next = x0.copy()
        else:
            a_t, s_t = alpha_sigma(sig[i + 1])
            h = lam(sig[i + 1]) - lam(sig[i])
            if prev_x0 is None or last:
                x_next = (s_t / s_s) * x - a_t * (np.exp(-h) - 1.0) * x0
            else:
                h0 = lam(sig[i]) - lam(sig[i - 1])
                r0 = h0 / h
                d1 = (x0 - prev_x0) / r0
                x_next = (s_t / s_s) * x - a_t * (np.exp(-h) - 1.0) * x0 - 0.5 * a_t * (np.exp(-h) - 1.0) * d1
        prev_x0 = x0
        x = x_next
        traj.append(x.tolist())
        x0s.append(x0.tolist())
    return ts, traj, x0s


def main():
    configs = {
        "sd15": {"numTrainTimesteps": 1000, "betaSchedule": "scaled_linear", "betaStart": 0.00085, "betaEnd": 0.012},
        "linear": {"numTrainTimesteps": 1000, "betaSchedule": "linear", "betaStart": 0.0001, "betaEnd": 0.02},
    }
    rng = np.random.default_rng(1234)
    x_init = rng.standard_normal(8)
    cases = []
    for cname, cfg in configs.items():
        ac = alphas_cumprod(cfg)
        for n in (50, 10, 7):
            ts, traj, x0s = ddim_run(cfg, n, x_init.copy())
            cases.append({"scheduler": "ddim", "config": cname, "steps": n, "timesteps": ts, "trajectory": traj, "predOriginal": x0s})
        for n in (20, 10, 7):
            ts, traj, x0s = dpm_run(cfg, n, x_init.copy())
            cases.append({"scheduler": "dpmpp2m", "config": cname, "steps": n, "timesteps": ts, "trajectory": traj, "predOriginal": x0s})
        configs[cname] = dict(cfg, alphasCumprodSamples={str(t): float(ac[t]) for t in (0, 1, 499, 999)})
    out = {"xInit": x_init.tolist(), "configs": configs, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheduler-fixtures.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path, len(cases), "cases")


if __name__ == "__main__":
    main()
