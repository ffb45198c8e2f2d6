"""The diffusion world model on tiny configs: shapes, EDM identities, sampler, Video2World conditioning."""

from __future__ import annotations

import math
from contextlib import chdir

import numpy as np
import pytest
import torch

from cosmos_sim.nn.rope import RotaryEmbedding3D, apply_rotary
from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.world_models import LatentState, WorldModel
from cosmos_sim.world_models.diffusion import (
    DiffusionWorldModel,
    DiffusionWorldModelConfig,
    EDMConfig,
    LatentDiffusionModel,
    SamplerConfig,
)
from cosmos_sim.world_models.diffusion.dit import patchify, unpatchify
from cosmos_sim.world_models.diffusion.edm import loss_weight, preconditioning
from cosmos_sim.world_models.diffusion.sampler import heun_sample, karras_sigmas

TINY = dict(
    latent_channels=4, latent_size=(4, 4), dim=32, depth=2, heads=2, adaln_rank=8, window=3, state_dim=3
)


def tiny_model(**overrides) -> LatentDiffusionModel:
    torch.manual_seed(0)
    return LatentDiffusionModel(DiffusionWorldModelConfig(**{**TINY, **overrides})).eval()


def batch(model: LatentDiffusionModel, b: int = 3, t: int = 3, seed: int = 0):
    c = model.config
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(b, c.latent_channels, t, *c.latent_size, generator=g) * 0.5
    actions = torch.rand(b, t - 1, c.actions_per_latent, c.action_dim, generator=g) * 2 - 1
    states = torch.randn(b, t, c.state_dim, generator=g)
    return latents, actions, states


def test_edm_preconditioning_identities():
    sigma_data = 0.5
    sigma = torch.logspace(-3, 2, 50, dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = preconditioning(sigma, sigma_data)
    # F's input has unit variance for data of std sigma_data: Var(c_in * (y + sigma n)) = 1.
    torch.testing.assert_close(c_in**2 * (sigma_data**2 + sigma**2), torch.ones_like(sigma))
    # F's target (y - c_skip x) / c_out has unit variance too (Karras et al., Eq. 8 and App. B.6).
    target_var = ((1 - c_skip) ** 2 * sigma_data**2 + c_skip**2 * sigma**2) / c_out**2
    torch.testing.assert_close(target_var, torch.ones_like(sigma))
    # The loss weight cancels c_out^2, and the ends behave: identity at no noise, F alone at high noise.
    torch.testing.assert_close(loss_weight(sigma, sigma_data) * c_out**2, torch.ones_like(sigma))
    assert c_skip[0] > 0.9999 and c_out[0] < 0.0021 and c_skip[-1] < 1e-4
    torch.testing.assert_close(c_noise, sigma.log() / 4)


def test_heun_sampler_converges_to_the_gaussian_probability_flow_at_second_order():
    # For data ~ N(0, s^2) the ideal denoiser is s^2 / (s^2 + sigma^2) x, and the ODE maps noise
    # n * sigma_max to n * s * sigma_max / sqrt(sigma_max^2 + s^2) exactly.
    s, edm = 0.5, EDMConfig()
    noise = torch.randn(100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = noise * s * edm.sigma_max / math.sqrt(edm.sigma_max**2 + s**2)
    errors = []
    for steps in (32, 128):
        sigmas = karras_sigmas(steps, edm.sigma_min, edm.sigma_max, edm.rho)
        assert sigmas[0] == edm.sigma_max and sigmas[-1] == 0 and torch.all(sigmas[1:] < sigmas[:-1])
        out = heun_sample(lambda x, sigma: s**2 / (s**2 + sigma**2) * x, noise, sigmas)
        errors.append(((out - exact).abs() / exact.abs()).max().item())
    # Second order: 4x the steps, about 16x less error (measured: 1.6e-2 -> 8.6e-4).
    assert errors[1] < 1e-3 and errors[0] / errors[1] > 10


def test_rope_scores_depend_on_relative_positions_only():
    rope = RotaryEmbedding3D(12)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 2 * 3 * 3, 12, generator=g), torch.randn(1, 1, 2 * 3 * 3, 12, generator=g)
    cos, sin = rope((2, 3, 3))
    cos2, sin2 = rope((2, 3, 3), t_offset=5)
    scores = apply_rotary(q, cos, sin) @ apply_rotary(k, cos, sin).transpose(-1, -2)
    shifted = apply_rotary(q, cos2, sin2) @ apply_rotary(k, cos2, sin2).transpose(-1, -2)
    torch.testing.assert_close(scores, shifted, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(apply_rotary(q, cos, sin), apply_rotary(q, cos2, sin2))


def test_patchify_round_trip_keeps_each_patch_in_one_token():
    x = torch.randn(2, 3, 4, 6, 8)
    tokens = patchify(x, (1, 2, 2))
    assert tokens.shape == (2, 4 * 3 * 4, 3 * 2 * 2)
    torch.testing.assert_close(unpatchify(tokens, (4, 3, 4), (1, 2, 2)), x, rtol=0, atol=0)
    # Token 1 is frame 0, patch row 0, patch column 1: pixels (0..1, 2..3) of every channel.
    torch.testing.assert_close(tokens[:, 1].reshape(2, 3, 2, 2), x[:, :, 0, 0:2, 2:4], rtol=0, atol=0)


def test_denoiser_overwrites_the_condition_frames_and_keeps_shapes():
    model = tiny_model()
    latents, actions, _ = batch(model)
    noisy = latents + torch.randn_like(latents)
    sigma = torch.full((3, 3), 1.0)
    mask = torch.tensor([[True, False, False], [True, True, False], [True, True, False]])
    with torch.no_grad():
        out = model.denoise(noisy, sigma, mask, latents, actions)
    assert out.shape == latents.shape
    for i in range(3):
        frames = mask[i]
        assert torch.equal(out[i][:, frames], latents[i][:, frames])
        assert not torch.equal(out[i][:, ~frames], latents[i][:, ~frames])


def test_forward_does_not_modify_its_inputs():
    model = tiny_model()
    latents, actions, states = batch(model)
    copies = [latents.clone(), actions.clone(), states.clone()]
    model.training_loss(latents, actions, states, torch.Generator().manual_seed(0))
    for before, after in zip(copies, (latents, actions, states), strict=True):
        assert torch.equal(before, after)


def test_actions_change_the_prediction_and_guidance_uses_them():
    model = tiny_model()
    # Random weights everywhere, so the (otherwise zero-initialized) outputs respond to their inputs.
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    latents, actions, _ = batch(model, t=3)

    def run(a, sampler):
        return model.sample_next(latents[:, :, :2], a, torch.Generator().manual_seed(1), sampler)

    base = run(actions, SamplerConfig(steps=2))
    assert not torch.allclose(base, run(-actions, SamplerConfig(steps=2)))
    assert not torch.allclose(base, run(actions, SamplerConfig(steps=2, guidance=2.0)))


def test_euler_sampler_is_first_order_and_one_call_per_step():
    calls = []
    s, edm = 0.5, EDMConfig()

    def denoise(x, sigma):
        calls.append(sigma)
        return s**2 / (s**2 + sigma**2) * x

    noise = torch.ones(3, dtype=torch.float64)
    sigmas = karras_sigmas(4, edm.sigma_min, edm.sigma_max, edm.rho)
    heun_sample(denoise, noise, sigmas, second_order=False)
    assert calls == [float(v) for v in sigmas[:-1]]  # one call per step, at each step's start


def test_sampling_is_deterministic_under_a_seed():
    model = tiny_model()
    latents, actions, _ = batch(model)

    def sample(seed):
        return model.sample_next(latents[:, :, :2], actions, torch.Generator().manual_seed(seed))

    assert torch.equal(sample(3), sample(3))
    assert not torch.equal(sample(3), sample(4))


def test_gelu_setting_selects_the_mlp_activation_and_keeps_the_weights():
    """``gelu`` changes only the activation: the same weights load either way, and the outputs differ
    by the approximation's small error."""
    tanh, exact = tiny_model(), tiny_model(gelu="exact")
    with torch.no_grad():  # off the zero-initialized gates, so the MLPs reach the output
        for parameter in tanh.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    exact.load_state_dict(tanh.state_dict())
    latents, actions, _ = batch(tanh)
    noisy, sigma = latents + torch.randn_like(latents), torch.full((3, 3), 1.0)
    mask = torch.zeros(3, 3, dtype=torch.bool)
    with torch.no_grad():
        a, b = (m.denoise(noisy, sigma, mask, latents, actions) for m in (tanh, exact))
    assert 0 < (a - b).abs().max() < 1e-2


def test_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    model = LatentDiffusionModel(DiffusionWorldModelConfig(**TINY)).train()
    latents, actions, states = batch(model, b=4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def eval_loss() -> float:  # fixed noise, so the numbers compare
        with torch.no_grad():
            return model.training_loss(latents, actions, states, torch.Generator().manual_seed(123))[1][
                "loss"
            ]

    start = eval_loss()
    for _ in range(150):
        loss, _ = model.training_loss(latents, actions, states, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.5 * start


@pytest.fixture(scope="module")
def world_model():
    torch.manual_seed(0)
    tokenizer = build_tokenizer(
        preset(
            "CV4x8x8",
            channels=8,
            channels_mult=(1, 2),
            num_res_blocks=1,
            attn_resolutions=(),
            latent_channels=4,
        )
    )
    model = LatentDiffusionModel(DiffusionWorldModelConfig(**TINY))
    return DiffusionWorldModel(model, tokenizer, sampler=SamplerConfig(steps=2))


def test_world_model_api_shapes(world_model):
    assert isinstance(world_model, WorldModel)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 5, 32, 32, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (2, 4, 2)).astype(np.float32)
    state = world_model.encode(frames, actions)
    assert isinstance(state, LatentState) and state.latents.shape == (2, 4, 2, 4, 4)
    assert state.actions.shape == (2, 1, 4, 2)
    g = torch.Generator().manual_seed(0)
    predicted = world_model.rollout(state, torch.zeros(2, 3, 4, 2), g)
    assert predicted.shape == (2, 4, 3, 4, 4)  # window 3 slides over 5 latent frames
    video = world_model.decode(torch.cat([state.latents, predicted], dim=2))
    assert video.shape == (2, 1 + 4 * 4, 32, 32, 3) and video.dtype == np.uint8
    assert world_model.predict_state(predicted).shape == (2, 3, 3)


def test_compiled_world_model_steps_as_the_eager_one(world_model):
    """``compile=True`` runs the DiT through torch.compile: the same rollout up to kernel rounding, and
    the parameter names unchanged (about a minute of compilation on 2 CPU cores)."""
    with pytest.raises(ValueError, match="compile must be True or False, got 'yes'"):
        DiffusionWorldModel(world_model.model, world_model.tokenizer, compile="yes")
    compiled = DiffusionWorldModel(
        LatentDiffusionModel(world_model.config),
        world_model.tokenizer,
        sampler=world_model.sampler,
        compile=True,
    )
    compiled.model.load_state_dict(world_model.model.state_dict())  # strict: the keys are unchanged
    assert compiled.compiled and not world_model.compiled
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (2, 5, 32, 32, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (2, 4, 2)).astype(np.float32)
    future = torch.from_numpy(rng.uniform(-1, 1, (2, 2, 4, 2)).astype(np.float32))
    eager, fast = (
        w.rollout(w.encode(frames, actions), future, torch.Generator().manual_seed(0))
        for w in (world_model, compiled)
    )
    assert fast.shape == eager.shape
    # The kernels fused differently: rounding-sized differences only.
    assert (fast - eager).abs().max() < 0.05 * eager.abs().max()


def test_decoder_runs_in_the_world_models_precision(world_model):
    """``bf16`` covers the tokenizer's decoder: its frames differ from float32 by rounding only."""
    latents = world_model.encode(
        np.random.default_rng(1).integers(0, 256, (2, 5, 32, 32, 3), np.uint8), np.zeros((2, 4, 2))
    ).latents
    try:
        world_model.bf16 = False
        full = world_model.decode(latents).astype(int)
        world_model.bf16 = True
        half = world_model.decode(latents).astype(int)
    finally:
        world_model.bf16 = True
    difference = np.abs(full - half)
    assert difference.max() > 0, "the decoder ignored bf16"
    assert difference.mean() < 2.0, difference.mean()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda wm, s: wm.step(s, torch.zeros(2, 4, 3), torch.Generator()),
            r"actions must have shape \(2, 4, 2\)",
        ),
        (lambda wm, s: wm.step(s, torch.zeros(2, 3, 2), torch.Generator()), r"actions must have shape"),
        (lambda wm, s: wm.step(s, torch.full((2, 4, 2), float("nan")), torch.Generator()), "NaN"),
        (lambda wm, s: wm.rollout(s, torch.zeros(2, 4, 2), torch.Generator()), r"\(B, H, k, A\)"),
        (
            lambda wm, s: wm.encode(np.zeros((2, 5, 64, 64, 3), np.uint8), np.zeros((2, 4, 2))),
            "trained on 32x32",
        ),
        (lambda wm, s: wm.encode(np.zeros((2, 4, 32, 32, 3), np.uint8)), r"1 \+ 4\*n"),
        (lambda wm, s: wm.encode(np.zeros((2, 5, 32, 32, 3), np.uint8)), "need the 4 actions"),
        (
            lambda wm, s: wm.encode(np.zeros((2, 5, 32, 32, 3), np.uint8), np.zeros((2, 4, 3))),
            r"actions must have shape \(B=2, T-1=4, A=2\)",
        ),
        (lambda wm, s: wm.encode(np.zeros((2, 5, 32, 32, 3), np.float32), np.zeros((2, 4, 2))), "uint8"),
        # States and latents that did not come from encode/step:
        (
            lambda wm, s: wm.step(
                LatentState(s.latents, torch.zeros(3, 0, 4, 2)), torch.zeros(2, 4, 2), torch.Generator()
            ),
            r"state.actions must be \(B=2, T-1=0, k=4, A=2\)",
        ),
        (
            lambda wm, s: wm.step(
                LatentState(s.latents[:, :, :, :2], s.actions), torch.zeros(2, 4, 2), torch.Generator()
            ),
            r"latents must be \(B, C=4, T, h=4, w=4\) with B, T >= 1, got \(2, 4, 1, 2, 4\)",
        ),
        (
            lambda wm, s: wm.rollout(
                LatentState(s.latents * np.nan, s.actions), torch.zeros(2, 1, 4, 2), torch.Generator()
            ),
            "latents contain NaN",
        ),
        (
            lambda wm, s: wm.decode(s.latents.long()),
            r"latents must be a float tensor .* got torch.int64 tensor",
        ),
        (lambda wm, s: wm.decode(s.latents.numpy()), "latents must be a float tensor .* got ndarray"),
        (lambda wm, s: wm.decode(s.latents[:, :, :0]), "with B, T >= 1"),
        (lambda wm, s: wm.predict_state(s.latents * np.inf), "NaN or inf"),
    ],
)
def test_bad_inputs_are_clear_errors(world_model, call, message):
    state = world_model.encode(np.zeros((2, 1, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=message):
        call(world_model, state)


def test_sampling_needs_an_explicit_generator_and_takes_any_noise_labels(world_model):
    state = world_model.encode(np.zeros((2, 1, 32, 32, 3), np.uint8))
    with pytest.raises(
        TypeError, match="generator must be a torch.Generator .* never draw from the global RNG"
    ):
        world_model.step(state, torch.zeros(2, 4, 2), None)
    # Labels, not counts: a huge label draws one noise per distinct value, as 0 and 1 would.
    labels = world_model.step(
        state, torch.zeros(2, 4, 2), torch.Generator().manual_seed(0), noise_groups=torch.tensor([7, 10**12])
    )
    small = world_model.step(
        state, torch.zeros(2, 4, 2), torch.Generator().manual_seed(0), noise_groups=torch.tensor([0, 1])
    )
    torch.testing.assert_close(labels.latents, small.latents, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(patch=(2, 2, 2)), "patch must be"),
        (dict(latent_size=(5, 4)), "that divide by the patch"),
        (dict(dim=30, heads=4), "even head dimension"),
        (dict(window=1), "window must be >= 2"),
        (dict(edm=dict(sigma_min=1.0, sigma_max=0.5)), "sigma_min"),
        (dict(edm=dict(condition_sigma=0.5)), "condition_sigma must be in"),
        (dict(state_consistency=-1.0), "state_consistency must be >= 0"),
        (dict(gelu="relu"), "gelu must be 'tanh' or 'exact'"),
        # Types, as a hand-edited config.json or a YAML override can get them wrong:
        (dict(dim="192"), r"DiffusionWorldModelConfig.dim must be int, got '192' \(str\)"),
        (dict(depth=True), r"depth must be int, got True \(bool\)"),
        (dict(latent_size=(4, "4")), r"latent_size must be tuple\[int, int\]"),
        (dict(edm=[1]), "edm must be an EDMConfig or a dict"),
        (dict(edm=dict(sigma_data="0.5")), "EDMConfig.sigma_data must be float"),
        (dict(edm=dict(sigma_max=float("inf"))), "EDMConfig.sigma_max must be a finite number > 0"),
        (dict(edm=dict(p_mean=float("nan"))), "EDMConfig.p_mean must be a finite number"),
        (dict(mlp_ratio=0.0), "mlp_ratio must be a finite number > 0"),
        (dict(mlp_ratio=float("nan")), "mlp_ratio must be a finite number > 0"),
        (dict(latent_size=(0, 0)), "latent_size .* must be two sizes >= 1"),
    ],
)
def test_bad_configs_are_clear_errors(fields, message):
    with pytest.raises(ValueError, match=message):
        DiffusionWorldModelConfig(**{**TINY, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(steps=0), "steps must be >= 1"),
        (dict(solver="rk4"), "solver must be"),
        (dict(sigma_min=0), "sigma_min"),
        (dict(sigma_min=float("inf")), "sigma_min must be a finite number > 0"),
        (dict(guidance=float("nan")), "guidance must be a finite number >= 0"),
        (dict(guidance=float("inf")), "guidance must be a finite number >= 0"),
    ],
)
def test_bad_sampler_configs_are_clear_errors(fields, message):
    with pytest.raises(ValueError, match=message):
        SamplerConfig(**fields)


def test_unknown_config_keys_are_named():
    with pytest.raises(ValueError, match=r"unknown fields \['depht'\]"):
        DiffusionWorldModelConfig.from_dict({**TINY, "depht": 3})


def test_numpy_scalars_are_numbers_to_the_configs():
    sampler = SamplerConfig(steps=np.int64(2), sigma_min=np.float32(1.0))
    assert sampler.steps == 2 and sampler.sigma_min == 1.0
    assert DiffusionWorldModelConfig(**{**TINY, "dim": np.int32(32)}).head_dim == 16


def test_a_discrete_tokenizer_is_refused():
    tokenizer = build_tokenizer(
        preset("DV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    )
    with pytest.raises(ValueError, match="continuous"):
        DiffusionWorldModel(tiny_model(), tokenizer)


def test_a_torn_or_foreign_checkpoint_is_refused(tmp_path):
    import dataclasses

    from cosmos_sim.tokenizers.checkpoint import save_tokenizer
    from cosmos_sim.world_models.diffusion.checkpoint import (
        load_world_model,
        save_world_model,
        tokenizer_fingerprint,
    )

    torch.manual_seed(0)
    tok_config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    tok_dir = save_tokenizer(build_tokenizer(tok_config), tmp_path / "tok")
    config = DiffusionWorldModelConfig(dim=32, depth=1, heads=2, adaln_rank=4, window=3)
    config = dataclasses.replace(config, tokenizer=tokenizer_fingerprint(tok_dir))
    model_dir = save_world_model(LatentDiffusionModel(config), tmp_path / "wfm", tokenizer_dir=tok_dir)
    assert load_world_model(model_dir).config == config
    with chdir(tmp_path):  # a zoo name is found from any working folder
        assert load_world_model("cosmos_sim/zoo/wfm_pushblock").config.task == "cosmos_sim/PushBlock-v0"
    # Saves that would destroy a tokenizer or could never load are refused before writing anything.
    tokenizer_files = {p.name: p.read_bytes() for p in tok_dir.iterdir()}
    with pytest.raises(ValueError, match="holds cosmos_sim.tokenizer.* saving there would overwrite it"):
        save_world_model(LatentDiffusionModel(config), tok_dir, tokenizer_dir=tok_dir)
    assert {p.name: p.read_bytes() for p in tok_dir.iterdir()} == tokenizer_files
    unnamed = dataclasses.replace(config, tokenizer="")
    with pytest.raises(ValueError, match="config names no tokenizer"):
        save_world_model(LatentDiffusionModel(unnamed), tmp_path / "unnamed", tokenizer_dir=tok_dir)
    with pytest.raises(FileNotFoundError, match="no tokenizer checkpoint at .*nowhere"):
        save_world_model(LatentDiffusionModel(config), tmp_path / "lost", tokenizer_dir=tmp_path / "nowhere")
    assert not (tmp_path / "unnamed").exists() and not (tmp_path / "lost").exists()
    record_path = model_dir / "config.json"
    record = record_path.read_text()
    record_path.write_text(record.replace('"tokenizer_dir"', '"tokenizer_folder"'))
    with pytest.raises(ValueError, match="'tokenizer_dir' must name the tokenizer's folder, got None"):
        load_world_model(model_dir)
    record_path.write_text(record)
    weights = model_dir / "model.safetensors"
    weights.rename(model_dir / "moved.safetensors")
    with pytest.raises(FileNotFoundError, match="no world model weights at .*model.safetensors"):
        load_world_model(model_dir)
    (model_dir / "moved.safetensors").rename(weights)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the SHA-256 in its config"):
        load_world_model(model_dir)
    with pytest.raises(ValueError, match="not a cosmos-sim diffusion world model config"):
        load_world_model(tmp_path / "tok")  # a tokenizer folder is not a world model
    (tmp_path / "tok" / "config.json").rename(tmp_path / "tok" / "moved.json")
    with pytest.raises(FileNotFoundError, match="no tokenizer checkpoint at .*tok: config.json is missing"):
        load_world_model(model_dir)


def test_state_consistency_trains_the_denoiser_and_leaves_the_head_to_its_own_terms():
    latents, actions, states = batch(tiny_model())

    def grads(**overrides) -> tuple[float, float, dict]:
        model = tiny_model(**overrides).train()
        loss, metrics = model.training_loss(latents, actions, states, torch.Generator().manual_seed(1))
        loss.backward()
        dit = sum(float(p.grad.abs().sum()) for p in model.dit.parameters() if p.grad is not None)
        head = sum(float(p.grad.abs().sum()) for p in model.state_head.parameters())
        return dit, head, metrics

    dit_off, head_off, metrics_off = grads()
    dit_on, head_on, metrics_on = grads(state_consistency=10.0)
    assert "state_consistency" not in metrics_off and metrics_on["state_consistency"] > 0
    assert dit_on != pytest.approx(dit_off, rel=1e-3)  # the term reaches the denoiser...
    assert head_on == pytest.approx(head_off, rel=1e-5)  # ...and not the head it reads through
    # An image batch (no context frame) has no state to be consistent with.
    image = tiny_model(state_consistency=10.0).train()
    _, image_metrics = image.training_loss(latents[:, :, :1], actions[:, :0], states[:, :1])
    assert "state_consistency" not in image_metrics


def test_a_save_records_the_tokenizer_it_checked_and_never_ships_inf(tmp_path):
    import json

    from cosmos_sim.world_models.diffusion.checkpoint import (
        load_world_model,
        read_world_model_config,
        save_world_model,
    )

    shipped, _ = read_world_model_config("cosmos_sim/zoo/wfm_pushblock")
    model = LatentDiffusionModel(shipped)
    # From another working folder, the zoo name resolves in the package: that folder is recorded.
    with chdir(tmp_path):
        save_world_model(model, "wfm", tokenizer_dir="cosmos_sim/zoo/cv4x8x8")
    saved = tmp_path / "wfm"
    assert json.loads((saved / "config.json").read_text())["tokenizer_dir"] == "cosmos_sim/zoo/cv4x8x8"
    assert load_world_model(saved).config == shipped
    # A statistic float16 cannot hold is refused, not shipped as inf.
    state_mean = model.state_mean.clone()
    state_mean[0] = 1e5
    model.set_statistics(model.latent_mean, model.latent_std, state_mean, model.state_std)
    with pytest.raises(ValueError, match=r"state_mean does not fit in torch\.float16"):
        save_world_model(
            model, tmp_path / "f16", tokenizer_dir="cosmos_sim/zoo/cv4x8x8", weights_dtype=torch.float16
        )
    assert not (tmp_path / "f16").exists()
    # Missing weights are named before the tokenizer is compared.
    record = json.loads((saved / "config.json").read_text())
    record["config"] = {**record["config"], "tokenizer": "0" * 64}
    (saved / "config.json").write_text(json.dumps(record))
    with pytest.raises(
        ValueError, match="is neither the latent fingerprint of .* nor the SHA-256 of its weights file"
    ):
        load_world_model(saved)
    (saved / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no world model weights at"):
        load_world_model(saved)
