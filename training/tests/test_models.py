"""Model code: the DreamCache adapter contract (gate 0, features, cache concatenation) and SD 1.5 layout."""
import copy

import pytest
import torch

from dreamcache.models import UNet, is_adapter_param
from dreamcache.models.config import dev_tiny, sd15
from dreamcache.models.unet import reset_adapter


def small_unet(adapters=True, seed=0, width=1):
    cfg = dev_tiny(100).unet
    cfg.adapters = adapters
    cfg.adapter_width = width
    torch.manual_seed(seed)
    return UNet(cfg).eval()


def random_inputs(unet, b=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    c = unet.config
    x = torch.randn(b, 4, 16, 16, generator=g)
    t = torch.tensor([1.0, 400.0, 999.0][:b])
    ctx = torch.randn(b, 77, c.cross_attention_dim, generator=g)
    caches = {l["name"]: torch.randn(1, l["height"] * l["width"], l["channels"], generator=g)
              for l in unet.cache_layers(16)}
    return x, t, ctx, caches


def perturb_adapters(unet, seed=3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in unet.named_parameters():
            if is_adapter_param(n):
                p.add_(torch.randn(p.shape, generator=g) * 0.3)


def test_gate_zero_is_exactly_the_base_model():
    base = small_unet(adapters=False)
    full = small_unet(adapters=True)
    missing, unexpected = full.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(is_adapter_param(k) for k in missing)
    perturb_adapters(full)
    x, t, ctx, caches = random_inputs(full)
    with torch.no_grad():
        ref = base(x, t, ctx)
        out = full(x, t, ctx, torch.zeros(3), caches)
        on = full(x, t, ctx, torch.ones(3), caches)
    assert torch.equal(out, ref), "gate 0 must be bit-identical to the base U-Net"
    assert (on - ref).abs().max() > 1e-3, "perturbed adapters at gate 1 must change the output"


def test_gate_is_per_row():
    full = small_unet()
    perturb_adapters(full)
    x, t, ctx, caches = random_inputs(full)
    with torch.no_grad():
        mixed = full(x, t, ctx, torch.tensor([0.0, 1.0, 1.0]), caches)
        on = full(x, t, ctx, torch.ones(3), caches)
        off = full(x, t, ctx, torch.zeros(3), caches)
    assert torch.equal(mixed[0], off[0])
    assert torch.allclose(mixed[1:], on[1:], atol=1e-5)


def test_encoder_row_shares_the_encoder_of_rows_that_differ_only_in_gate():
    """Rows with one latent, timestep and text but gates 0 and 1 (DreamCache's e_u, e_i) from one
    encoder row: the same outputs and cached features as running every row whole."""
    full = small_unet()
    perturb_adapters(full)
    x, t, ctx, caches = random_inputs(full, b=2)
    gate = torch.tensor([0.0, 1.0, 1.0, 0.0])
    rows = torch.tensor([0, 0, 1, 1])
    with torch.no_grad():
        whole, f_whole = full(x[rows], t[rows], ctx[rows], gate, caches, return_features=True)
        shared, f_shared = full(x, t, ctx, gate, caches, return_features=True, encoder_row=rows)
    assert shared.shape == (4, 4, 16, 16)
    assert torch.allclose(shared, whole, atol=1e-5)
    assert f_shared.keys() == f_whole.keys()
    for k in f_whole:
        assert torch.allclose(f_shared[k], f_whole[k], atol=1e-5)
    assert (shared[0] - shared[1]).abs().max() > 1e-3  # the gate still tells the shared rows apart


def sampling_case(n: int, seed: int):
    """A small U-Net with trained-looking adapters, and n rows of random prompts, x_T and caches."""
    full = small_unet()
    perturb_adapters(full)
    g = torch.Generator().manual_seed(seed)
    dim = full.config.cross_attention_dim
    prompts, empty = torch.randn(n, 77, dim, generator=g), torch.randn(1, 77, dim, generator=g)
    noise = torch.randn(n, 4, 16, 16, generator=g)
    caches = {l["name"]: torch.randn(n, l["height"] * l["width"], l["channels"], generator=g)
              for l in full.cache_layers(16)}
    return full, prompts, empty, noise, caches


def test_batched_sampler_with_shared_encoder_matches_the_single_sampler():
    """sample_batch (the benchmark's sampler, encoder shared by e_u and e_i) gives what sampler.sample
    (every row through the whole U-Net) gives for each row alone."""
    from dreamcache.sampler import sample
    from dreamcache.sampler_batched import sample_batch
    full, prompts, empty, noise, caches = sampling_case(2, seed=4)
    for mode in ("combined", "prompted"):
        batched = sample_batch(full, prompts, empty, noise, steps=3, s_img=2.0, caches=caches, guidance=mode)
        for i in range(2):
            alone = sample(full, prompts[i:i + 1], empty, steps=3, s_img=2.0, noise=noise[i:i + 1],
                           cache={k: v[i:i + 1] for k, v in caches.items()}, mode=mode)
            assert torch.allclose(batched[i:i + 1], alone, atol=1e-4), mode
    method = sample_batch(full, prompts, empty, noise, steps=3, s_img=2.0, caches=caches)
    assert (method - batched).abs().max() > 1e-4     # batched is the prompted order's: not the same images
    with pytest.raises(ValueError, match="guidance"):
        sample_batch(full, prompts, empty, noise, steps=1, caches=caches, guidance="joint")


def test_image_scales_ramp_linearly_from_the_noisiest_step():
    from dreamcache.sampler import image_scales
    assert image_scales(3, 9.0) == [9.0, 9.0, 9.0]
    assert image_scales(5, 6.0, 12.0) == [6.0, 7.5, 9.0, 10.5, 12.0]
    assert image_scales(1, 6.0, 12.0) == [6.0]          # one step: the first scale, as a constant run does
    ramp = image_scales(25, 12.0, 6.0)
    assert ramp[0] == 12.0 and ramp[-1] == 6.0 and abs(sum(ramp) / 25 - 9.0) < 1e-9


def test_ramped_image_scale_is_the_same_in_both_samplers_and_differs_from_a_constant():
    """sample_batch (the benchmark's) and sample (the parity reference) apply the ramp step by step alike;
    a ramp whose ends are equal is that constant."""
    from dreamcache.sampler import sample
    from dreamcache.sampler_batched import sample_batch
    full, prompts, empty, noise, caches = sampling_case(1, seed=5)
    ramp = sample_batch(full, prompts, empty, noise, steps=3, s_img=1.0, s_img_end=5.0, caches=caches)
    alone = sample(full, prompts, empty, steps=3, s_img=1.0, s_img_end=5.0, noise=noise, cache=caches)
    assert torch.allclose(ramp, alone, atol=1e-4)
    const = sample_batch(full, prompts, empty, noise, steps=3, s_img=3.0, caches=caches)
    flat = sample_batch(full, prompts, empty, noise, steps=3, s_img=3.0, s_img_end=3.0, caches=caches)
    assert torch.equal(const, flat)
    assert (ramp - const).abs().max() > 1e-4     # same mean scale, other images


def test_guidance_rescale_matches_each_samples_spread_to_e_c():
    """phi 1: each sample's guided prediction takes e_c's standard deviation, its direction unchanged;
    phi 0: the method's prediction untouched; between: the straight blend of the two."""
    from dreamcache.sampler import rescale_guidance
    g = torch.Generator().manual_seed(3)
    guided, ec = torch.randn(2, 4, 8, 8, generator=g) * torch.tensor([5.0, 2.0])[:, None, None, None], \
        torch.randn(2, 4, 8, 8, generator=g)
    assert torch.equal(rescale_guidance(guided, ec, 0.0), guided)
    full = rescale_guidance(guided, ec, 1.0)
    assert torch.allclose(full.flatten(1).std(1), ec.flatten(1).std(1), rtol=1e-5)
    assert torch.allclose(full / full.flatten(1).norm(dim=1)[:, None, None, None],
                          guided / guided.flatten(1).norm(dim=1)[:, None, None, None], atol=1e-6)
    assert torch.allclose(rescale_guidance(guided, ec, 0.7), 0.7 * full + 0.3 * guided, atol=1e-5)


def test_guidance_rescale_is_the_same_in_both_samplers_and_leaves_plain_cfg_alone():
    from dreamcache.sampler import sample
    from dreamcache.sampler_batched import sample_batch
    full, prompts, empty, noise, caches = sampling_case(1, seed=6)
    method = sample_batch(full, prompts, empty, noise, steps=3, s_img=4.0, caches=caches)
    assert torch.equal(sample_batch(full, prompts, empty, noise, steps=3, s_img=4.0, caches=caches, rescale=0.0),
                       method)
    rescaled = sample_batch(full, prompts, empty, noise, steps=3, s_img=4.0, caches=caches, rescale=0.7)
    alone = sample(full, prompts, empty, steps=3, s_img=4.0, noise=noise, cache=caches, rescale=0.7)
    assert torch.allclose(rescaled, alone, atol=1e-4)
    assert (rescaled - method).abs().max() > 1e-4
    # no subject (text-only, plain CFG): the rescale is for the personalized rows only
    plain = sample_batch(full, prompts, empty, noise, steps=3, caches=None)
    assert torch.equal(sample_batch(full, prompts, empty, noise, steps=3, caches=None, rescale=0.7), plain)


def test_prompted_guidance_orders_text_before_image():
    """[e_u, e_t, e_c] → e_u + sT(e_t − e_u) + sI(e_c − e_t); the method's order stays as it was."""
    from dreamcache.sampler import combine
    eu, em, ec = torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([4.0])
    e = torch.cat([eu, em, ec])
    assert combine(e, "prompted", 7.5, 3.0, 1).item() == 1 + 7.5 * 1 + 3.0 * 2
    assert combine(e, "combined", 7.5, 3.0, 1).item() == 1 + 7.5 * 2 + 3.0 * 1


def test_fresh_adapters_are_identity():
    base = small_unet(adapters=False)
    full = small_unet(adapters=True)
    full.load_state_dict(base.state_dict(), strict=False)
    x, t, ctx, caches = random_inputs(full)
    with torch.no_grad():
        assert torch.allclose(full(x, t, ctx, torch.ones(3), caches), base(x, t, ctx), atol=1e-5)


@pytest.mark.parametrize("width", [1, 2])
def test_fresh_adapters_learn(width):
    """Every adapter matrix moves within two optimizer steps (a zero-initialised product of two
    factors would leave both at zero for ever), at the paper's width and a wider one."""
    unet = small_unet(adapters=True, width=width)
    x, t, ctx, caches = random_inputs(unet)
    names = [n for n, p in unet.named_parameters() if is_adapter_param(n) and p.dim() > 1]
    before = {n: p.detach().clone() for n, p in unet.named_parameters() if n in names}
    for n, p in unet.named_parameters():
        p.requires_grad_(n in names)
    opt = torch.optim.SGD([p for n, p in unet.named_parameters() if n in names], lr=0.5)
    target = torch.randn_like(x)
    for _ in range(2):
        opt.zero_grad()
        (unet(x, t, ctx, torch.ones(3), caches) - target).pow(2).mean().backward()
        opt.step()
    frozen = [n for n, p in unet.named_parameters() if n in names and torch.equal(p.detach(), before[n])]
    assert not frozen, frozen[:4]


def test_features_are_transformer_block_inputs():
    unet = small_unet()
    seen = {}
    mods = dict(unet.named_modules())
    hooks = []
    for layer, name in unet.cached_modules.items():
        blk = mods[name].transformer_blocks[0]
        hooks.append(blk.register_forward_pre_hook(lambda m, inp, layer=layer: seen.__setitem__(layer, inp[0].clone())))
    x, t, ctx, caches = random_inputs(unet)
    with torch.no_grad():
        _, feats = unet(x, t, ctx, torch.zeros(3), caches, return_features=True)
    for h in hooks:
        h.remove()
    assert set(feats) == set(seen) == {l["name"] for l in unet.cache_layers(16)}
    for k in feats:
        assert torch.equal(feats[k], seen[k])
        l = next(l for l in unet.cache_layers(16) if l["name"] == k)
        assert feats[k].shape == (3, l["height"] * l["width"], l["channels"])


def test_cache_from_several_references_concatenates():
    unet = small_unet()
    perturb_adapters(unet)
    x, t, ctx, caches = random_inputs(unet)
    twice = {k: torch.cat([v, v], dim=1) for k, v in caches.items()}
    other = {k: torch.randn_like(v) for k, v in caches.items()}
    both = {k: torch.cat([caches[k], other[k]], dim=1) for k in caches}
    gate = torch.ones(3)
    with torch.no_grad():
        once = unet(x, t, ctx, gate, caches)
        dup = unet(x, t, ctx, gate, twice)
        mixed = unet(x, t, ctx, gate, both)
        alone = unet(x, t, ctx, gate, other)
    # Attention over a duplicated key set is the same distribution: identical outputs.
    assert torch.allclose(once, dup, atol=1e-5)
    # Two different references give a third result, neither one alone.
    assert (mixed - once).abs().max() > 1e-4 and (mixed - alone).abs().max() > 1e-4


def test_reset_adapter_restores_identity():
    unet = small_unet()
    perturb_adapters(unet)
    for m in unet.modules():
        if getattr(m, "has_adapter", False):
            reset_adapter(m)
            torch.nn.init.zeros_(m.attn_mem.to_out[0].weight)
    base = small_unet(adapters=False)
    base.load_state_dict({k: v for k, v in unet.state_dict().items() if not is_adapter_param(k)})
    x, t, ctx, caches = random_inputs(unet)
    with torch.no_grad():
        assert torch.allclose(unet(x, t, ctx, torch.ones(3), caches), base(x, t, ctx), atol=1e-5)


@pytest.fixture(scope="module")
def sd15_unet():
    cfg = sd15().unet
    with torch.no_grad():
        return UNet(cfg)


def test_sd15_parameter_count_and_adapter_budget(sd15_unet):
    base = sum(p.numel() for p in sd15_unet.base_parameters())
    adapter = sum(p.numel() for p in sd15_unet.adapter_parameters())
    assert base == 859_520_964  # diffusers' UNet2DConditionModel with the SD 1.5 config
    assert adapter <= 26_000_000
    assert [ (l["name"], l["module"], l["channels"], l["height"]) for l in sd15_unet.cache_layers(64)] == [
        ("mid", "mid_block.attentions.0", 1280, 8),
        ("dec1", "up_blocks.1.attentions.1", 1280, 16),
        ("dec3", "up_blocks.2.attentions.0", 640, 32),
        ("dec5", "up_blocks.2.attentions.2", 640, 32),
        ("dec7", "up_blocks.3.attentions.1", 320, 64),
    ]


def test_tiny_wide_preset_doubles_the_unet():
    """The bigger base-model candidate (docs/benchmarks.md "A bigger base U-Net"): twice tiny's U-Net,
    same VAE and text encoder, head size 32 in every block."""
    from dreamcache.models.config import tiny, tiny_wide
    wide, small = tiny_wide(4096), tiny(4096)
    count = lambda cfg: sum(p.numel() for p in UNet(cfg.unet).base_parameters())
    assert 1.9 < count(wide) / count(small) < 2.1
    assert wide.vae == small.vae and wide.text_encoder == small.text_encoder
    ch, heads = wide.unet.block_out_channels, wide.unet.num_attention_heads
    assert [c // h for c, h in zip(ch, heads)] == [32, 32, 32]
