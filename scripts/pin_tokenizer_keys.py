"""Pin the state_dict keys and shapes of the published-size CV4x8x8 and DV4x8x8 tokenizers.

Builds both models at the published hyper-parameters, checks them against the hand-derived numbers of
docs/design/cosmos_tokenizer_reference.md (Sec. 1.3-1.5), and writes
``tests/artifacts/cosmos_tokenizer_keys.json``, which ``tests/tokenizers/test_checkpoint.py`` compares the
models with. Run it again (``python scripts/pin_tokenizer_keys.py``) only after a deliberate change of the
module tree; the sanity checks refuse to write a file that disagrees with the reference notes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cosmos_sim.tokenizers import build_tokenizer, preset

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "tests" / "artifacts" / "cosmos_tokenizer_keys.json"
NAMES = ("CV4x8x8", "DV4x8x8")

# docs/design/cosmos_tokenizer_reference.md Sec. 1.5 ("conditional convs" layout).
EXPECTED_COUNTS = {"CV4x8x8": (306, 104_669_888), "DV4x8x8": (306, 104_669_558)}

# Hand-written from Sec. 1.3-1.4 of the reference notes, not read off the model.
_SHARED_SHAPES = {
    "encoder.conv_in.0.conv3d.weight": (128, 192, 1, 3, 3),
    "encoder.conv_in.1.conv3d.weight": (128, 128, 3, 1, 1),
    "encoder.down.0.block.0.nin_shortcut.conv3d.weight": (256, 128, 1, 1, 1),
    "encoder.down.0.downsample.conv1.conv3d.weight": (256, 256, 1, 3, 3),
    "encoder.mid.attn_1.1.q.conv3d.weight": (512, 512, 1, 1, 1),
    "decoder.up.0.block.0.nin_shortcut.conv3d.weight": (256, 512, 1, 1, 1),
    "decoder.up.2.upsample.conv2.conv3d.weight": (512, 512, 1, 3, 3),
    "decoder.conv_out.0.conv3d.weight": (192, 256, 1, 3, 3),
}
EXPECTED_SHAPES = {
    "CV4x8x8": {
        **_SHARED_SHAPES,
        "quant_conv.conv3d.weight": (16, 16, 1, 1, 1),
        "post_quant_conv.conv3d.weight": (16, 16, 1, 1, 1),
    },
    "DV4x8x8": {
        **_SHARED_SHAPES,
        "quant_conv.conv3d.weight": (6, 16, 1, 1, 1),
        "post_quant_conv.conv3d.weight": (16, 6, 1, 1, 1),
    },
}


def describe(name: str) -> dict:
    """Keys, shapes and counts of the published-size model ``name``, after checking them."""
    state = build_tokenizer(preset(name)).state_dict()
    keys = [[key, list(tensor.shape)] for key, tensor in state.items()]
    num_tensors, num_parameters = len(state), sum(t.numel() for t in state.values())
    problems = []
    if (num_tensors, num_parameters) != EXPECTED_COUNTS[name]:
        problems.append(
            f"{num_tensors} tensors / {num_parameters} parameters, expected "
            f"{EXPECTED_COUNTS[name][0]} / {EXPECTED_COUNTS[name][1]}"
        )
    for key, shape in EXPECTED_SHAPES[name].items():
        got = tuple(state[key].shape) if key in state else None
        if got != shape:
            problems.append(f"{key}: expected {shape}, got {got if got is not None else 'no such key'}")
    if problems:
        raise SystemExit(f"{name} disagrees with the reference notes:\n  " + "\n  ".join(problems))
    return {"num_tensors": num_tensors, "num_parameters": num_parameters, "keys": keys}


def main() -> None:
    data = {
        "source": (
            "state_dict() of cosmos_sim.tokenizers.build_tokenizer(preset(name)) at the published "
            "hyper-parameters, in state_dict order; counts and spot shapes checked against "
            "docs/design/cosmos_tokenizer_reference.md Sec. 1.3-1.5 (conditional resampler convs)"
        ),
        "regenerate": "python scripts/pin_tokenizer_keys.py",
        "models": {name: describe(name) for name in NAMES},
    }
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    # One key per line keeps diffs of the artifact readable.
    lines = ["{"]
    lines.append(f'  "source": {json.dumps(data["source"])},')
    lines.append(f'  "regenerate": {json.dumps(data["regenerate"])},')
    lines.append('  "models": {')
    for m, name in enumerate(NAMES):
        info = data["models"][name]
        lines.append(f"    {json.dumps(name)}: {{")
        lines.append(f'      "num_tensors": {info["num_tensors"]},')
        lines.append(f'      "num_parameters": {info["num_parameters"]},')
        lines.append('      "keys": [')
        for i, entry in enumerate(info["keys"]):
            lines.append(f"        {json.dumps(entry)}{',' if i < len(info['keys']) - 1 else ''}")
        lines.append("      ]")
        lines.append(f"    }}{',' if m < len(NAMES) - 1 else ''}")
    lines.append("  }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == data
    ARTIFACT.write_text(text)
    for name in NAMES:
        info = data["models"][name]
        print(
            f"{name}: {info['num_tensors']} tensors, {info['num_parameters']:,} parameters", file=sys.stderr
        )
    print(f"wrote {ARTIFACT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
