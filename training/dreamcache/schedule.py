"""Diffusion noise schedule shared by training, cache building and the Python sampler."""
import torch


def alphas_cumprod(num_train_timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012,
                   schedule: str = "scaled_linear") -> torch.Tensor:
    if schedule == "scaled_linear":
        betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps, dtype=torch.float64) ** 2
    elif schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)
    else:
        raise ValueError(f"unknown beta schedule {schedule!r}")
    return torch.cumprod(1.0 - betas, dim=0).float()


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, acp: torch.Tensor) -> torch.Tensor:
    a = acp.to(x0.device)[t].view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
