"""Shapes, causality, streaming equality and input errors of the CV and DV tokenizers (tiny configs)."""

from __future__ import annotations

import pytest
import torch

from cosmos_sim.tokenizers import TokenizerConfig

from .conftest import tiny, video

VIDEO_NAMES = ["CV4x8x8", "DV4x8x8", "CV8x8x8", "DV8x16x16"]
# Every video preset, plus the shipped models' setting: no GroupNorm, only its per-channel affine.
VIDEO_CASES = [pytest.param(name, {}, id=name) for name in VIDEO_NAMES] + [
    pytest.param("DV4x8x8", {"norm_groups": 0}, id="DV4x8x8-norm_groups=0")
]


@pytest.mark.parametrize("name", VIDEO_NAMES + ["CI8x8", "DI16x16"])
def test_shapes_follow_the_compression_factors(name):
    model = tiny(name)
    c = model.config
    frames = 1 + 2 * c.temporal_compression
    x = video(frames, 32, 48)  # a non-square aspect ratio
    with torch.no_grad():
        out = model(x)
    latent_shape = (
        2,
        c.latent_dim,
        c.latent_frames(frames),
        32 // c.spatial_compression,
        48 // c.spatial_compression,
    )
    assert out.latent.shape == latent_shape
    assert out.reconstruction.shape == x.shape
    if c.kind == "DV":
        assert out.indices.shape == (2, *latent_shape[2:]) and out.indices.dtype == torch.int64
        assert 0 <= out.indices.min() and out.indices.max() < c.codebook_size
        with torch.no_grad():
            torch.testing.assert_close(model.decode(out.indices), out.reconstruction)


@pytest.mark.parametrize("name", ["CV4x8x8", "DV4x8x8", "CI8x8"])
def test_images_are_one_frame_videos(name):
    model = tiny(name)
    x = video(1)
    with torch.no_grad():
        out = model(x)
    assert out.reconstruction.shape == x.shape
    assert out.latent.shape[2] == 1


@pytest.mark.parametrize(("name", "fields"), VIDEO_CASES)
def test_latents_never_depend_on_later_frames(name, fields):
    model = tiny(name, **fields)
    k = model.config.temporal_compression
    x = video(1 + 3 * k)
    with torch.no_grad():
        z = model._encode_latent(x)  # before quantization, so no change can round away
        for j in range(3):  # perturb every frame after latent frame j's last input frame
            changed = x.clone()
            changed[:, :, 1 + j * k :] = video(x.shape[2] - 1 - j * k, seed=7)
            z2 = model._encode_latent(changed)
            torch.testing.assert_close(z2[:, :, : j + 1], z[:, :, : j + 1], rtol=0, atol=0)
            assert not torch.equal(z2[:, :, j + 1 :], z[:, :, j + 1 :])


@pytest.mark.parametrize(("name", "fields"), VIDEO_CASES)
def test_reconstructed_frames_never_depend_on_later_latents(name, fields):
    model = tiny(name, **fields)
    k = model.config.temporal_compression
    with torch.no_grad():
        z = model(video(1 + 3 * k)).latent
        changed = z.clone()
        changed[:, :, 2:] = changed[:, :, 2:].flip(0)  # swap the batch's later latents
        if model.config.kind == "CV":
            a, b = model.decode(z), model.decode(changed)
        else:
            a, b = model.decode_codes(z), model.decode_codes(changed)
    kept = 1 + k  # frames decoded from latent frames 0 and 1
    torch.testing.assert_close(b[:, :, :kept], a[:, :, :kept], rtol=0, atol=0)


@pytest.mark.parametrize(("name", "fields"), VIDEO_CASES)
def test_streaming_encode_and_decode_equal_whole_clip(name, fields):
    model = tiny(name, **fields)
    k = model.config.temporal_compression
    x = video(1 + 4 * k, seed=3)
    with torch.no_grad():
        whole = model(x)
        encoder = model.stream_encoder()
        # Chunks of uneven sizes: 1 frame, then k, then 3k frames.
        parts = [encoder.push(x[:, :, :1]), encoder.push(x[:, :, 1 : 1 + k]), encoder.push(x[:, :, 1 + k :])]
        decoder = model.stream_decoder()
        frames = [
            decoder.push(whole.latent[:, :, :1]),
            decoder.push(whole.latent[:, :, 1:3]),
            decoder.push(whole.latent[:, :, 3:]),
        ]
    if model.config.kind == "DV":
        indices = torch.cat([p[0] for p in parts], dim=1)
        assert torch.equal(indices, whole.indices)
        streamed = torch.cat([p[1] for p in parts], dim=2)
    else:
        streamed = torch.cat(parts, dim=2)
    torch.testing.assert_close(streamed, whole.latent, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat(frames, dim=2), whole.reconstruction, rtol=1e-5, atol=1e-5)


def test_forward_does_not_modify_its_input():
    model = tiny("DV4x8x8")
    x = video(5)
    before = x.clone()
    model.train()(x).reconstruction.sum().backward()
    assert torch.equal(x, before)


def test_dv_gradients_pass_the_quantizer_to_the_encoder():
    model = tiny("DV4x8x8").train()
    model(video(5)).reconstruction.square().mean().backward()
    grad = model.encoder.conv_in[0].conv3d.weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda: video(6), r"frame count must be 1 \+ 4\*n, got 6; e.g. 5"),
        (lambda: video(5, 36, 32), "multiples of 8, got 36x32"),
        (lambda: (video(5) * 127.5 + 127.5).to(torch.uint8), "float tensor"),
        (lambda: video(5) * 255, r"must lie in \[-1, 1\]"),
        (lambda: video(5)[:, :2], r"shape \(B, 3, T, H, W\)"),
        (lambda: video(5)[0], r"shape \(B, 3, T, H, W\)"),
        (lambda: video(5).fill_(float("nan")), "NaN"),
        (lambda: video(5).double(), r"frames must be torch.float32 like the weights, got torch.float64"),
        (lambda: video(5)[:0], r"with B, T >= 1, got \(0, 3, 5, 32, 32\)"),
    ],
)
def test_bad_inputs_are_clear_errors(make_input, message):
    model = tiny("CV4x8x8")
    with pytest.raises(ValueError, match=message):
        model.encode(make_input())


def test_bad_stream_chunks_and_latents_are_clear_errors():
    model = tiny("DV4x8x8")
    encoder = model.stream_encoder()
    with pytest.raises(ValueError, match=r"1 \+ 4\*n"):
        encoder.push(video(4))
    encoder.push(video(1))
    with pytest.raises(ValueError, match=r"continuing stream chunk needs 4\*n"):
        encoder.push(video(5))
    with pytest.raises(ValueError, match=r"latents must be float \(B, 6"):
        model.decode_codes(torch.zeros(1, 16, 2, 4, 4))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 64000\)"):
        model.decode(torch.full((1, 2, 4, 4), 64000))
    # Later chunks continue the first chunk's clips: same batch and size (the stream survives the error).
    with pytest.raises(ValueError, match=r"frames must be \(B, H, W\) = \(2, 32, 32\) .* got \(4, 32, 32\)"):
        encoder.push(torch.cat([video(4), video(4)]))
    encoder.push(video(4))
    decoder = model.stream_decoder()
    decoder.push(torch.zeros(1, 6, 1, 4, 4))
    with pytest.raises(ValueError, match=r"latents must be \(B, H, W\) = \(1, 4, 4\) .* got \(1, 8, 8\)"):
        decoder.push(torch.zeros(1, 6, 1, 8, 8))
    with pytest.raises(ValueError, match=r"with B, T' >= 1"):
        decoder.push(torch.zeros(1, 6, 0, 4, 4))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(kind="AV"), "kind must be one of"),
        (dict(temporal_compression=3), "temporal_compression must be a power of two"),
        (dict(spatial_compression=16, channels_mult=(2, 4)), "add levels"),
        (dict(temporal_compression=8, channels_mult=(2, 4)), "add levels"),
        (dict(patch_size=16), "patch_size 16 exceeds"),
        (dict(kind="DV", levels=(8, 1)), "levels must be integers >= 2"),
        (dict(channels=64, norm_groups=3), "norm_groups must be 0 or divide every width"),
        (dict(latent_channels=0), "latent_channels must be >= 1, got 0"),
        (dict(z_channels=0), "z_channels must be >= 1, got 0"),
        (dict(channels_mult=(1, 0, 2)), "each a multiplier >= 1"),
    ],
)
def test_bad_configs_are_clear_errors(fields, message):
    with pytest.raises(ValueError, match=message):
        TokenizerConfig(**fields)


def test_a_pickled_stream_continues_like_the_original():
    import pickle

    model = tiny("CV4x8x8")
    x = video(1 + 3 * 4, seed=5)
    with torch.no_grad():
        decoder = model.stream_decoder()
        z = model.encode(x)
        decoder.push(z[:, :, :1])
        copy = pickle.loads(pickle.dumps(decoder))
        torch.testing.assert_close(copy.push(z[:, :, 1:]), decoder.push(z[:, :, 1:]), rtol=0, atol=0)
