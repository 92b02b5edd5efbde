"""A patch discriminator and the losses of an adversarial decoder fine-tune (train/vae.py --adv-weight).

Pixel losses (L1, L2, edges) reward the mean of the plausible images, so a decoder trained on them alone
blurs texture the latent cannot pin down; SD's own VAE adds a patch discriminator (and LPIPS, which needs
pretrained VGG weights that do not exist here). The generator's adversarial term is scaled as in Esser et
al.'s taming-transformers: by the ratio of the two losses' gradient norms at the decoder's last layer, so
it never outweighs the pixel loss whatever the discriminator's logit scale."""
import torch
from torch import nn
import torch.nn.functional as F


class PatchDiscriminator(nn.Module):
    """Logits for overlapping patches (receptive field ≈ 46 px at the default depth): real vs decoded."""

    def __init__(self, channels: int = 64, layers: int = 3, groups: int = 16):
        super().__init__()
        mods = [nn.Conv2d(3, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = channels
        for i in range(1, layers):
            nxt = channels * min(2 ** i, 8)
            mods += [nn.Conv2d(ch, nxt, 4, 2 if i < layers - 1 else 1, 1), nn.GroupNorm(min(groups, nxt), nxt),
                     nn.LeakyReLU(0.2)]
            ch = nxt
        mods.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: 0 once real patches score ≥ 1 and decoded ones ≤ −1."""
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def adaptive_weight(rec_loss: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor,
                    max_weight: float = 1e4) -> torch.Tensor:
    """‖∇ rec_loss‖ / ‖∇ g_loss‖ at last_layer (detached): the adversarial term's weight that gives it the
    pixel loss's gradient scale there."""
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, max_weight).detach()
