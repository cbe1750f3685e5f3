"""``geocrobim models``: the model presets and the shipped default checkpoint.

Nothing here imports torch: parameter counts come from the registry's record of each
preset (measured on torch's meta device and checked by the tests; a preset whose config
changed is counted afresh), and the default checkpoint's metadata is read from its JSON
files only. The listing takes about as long as ``geocrobim --help``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from geocrobim.cli._common import handle_errors


def collect() -> dict[str, Any]:
    """Presets (name, description, parameters, image size, classes) and the default checkpoint."""
    from geocrobim.models.checkpoint import DEFAULT_CHECKPOINT_DIR
    from geocrobim.models.registry import describe, get_config, list_models, preset_parameters

    presets = []
    for name in list_models():
        config = get_config(name)
        presets.append(
            {
                "name": name,
                "description": describe(name),
                "parameters": preset_parameters(name),
                "image_size": config.image_size,
                "num_classes": config.num_classes,
                "image_encoder": config.image_encoder.name,
            }
        )
    return {"presets": presets, "default_checkpoint": default_checkpoint_info(DEFAULT_CHECKPOINT_DIR)}


def default_checkpoint_info(path: Path) -> dict[str, Any]:
    """What the shipped default checkpoint says about itself (JSON only, weights not loaded)."""
    if not (path / "model.safetensors").is_file():
        return {"shipped": False, "path": str(path), "note": "no default model is shipped; pass --checkpoint PATH"}
    info: dict[str, Any] = {"shipped": True, "path": str(path)}
    for key, file in (("config", "config.json"), ("metadata", "metadata.json")):
        try:
            info[key] = json.loads((path / file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            info[key] = {"error": f"{file} unreadable: {exc}"}
    info["size_bytes"] = (path / "model.safetensors").stat().st_size
    return info


def human_count(count: int) -> str:
    """A parameter count as listed: ``5.4 M``, ``239 k``."""
    return f"{count / 1e6:.1f} M" if count >= 1e6 else f"{count / 1e3:.0f} k"


def render(info: dict[str, Any]) -> str:
    """Human-readable listing."""
    lines = ["Presets:"]
    width = max(len(p["name"]) for p in info["presets"])
    for p in info["presets"]:
        lines.append(
            f"  {p['name']:<{width}}  {human_count(p['parameters']):>9}  {p['image_size']}px  "
            f"{p['num_classes']}-class  {p['description']}"
        )
    default = info["default_checkpoint"]
    lines.append("")
    if not default["shipped"]:
        lines.append(f"Default checkpoint: none shipped ({default['path']}); pass --checkpoint PATH.")
        return "\n".join(lines)
    meta = default.get("metadata", {})
    config = default.get("config", {})
    lines.append(f"Default checkpoint: {default['path']}")
    lines.append(f"  model id:    {meta.get('model_id', 'unknown')}")
    lines.append(f"  image size:  {config.get('image_size', '?')} px, {config.get('num_classes', '?')}-class")
    lines.append(f"  trained on:  {meta.get('trained_on', 'not stated')}")
    if meta.get("notes"):
        lines.append(f"  notes:       {meta['notes']}")
    gsd = meta.get("gsd_m")
    lines.append(f"  GSD:         {'not stated' if gsd is None else f'{gsd} m'}")
    metrics = meta.get("metrics") or {}
    if metrics:
        lines.append("  metrics:     " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    else:
        lines.append("  metrics:     none recorded")
    lines.append(f"  size:        {default['size_bytes'] / 1e6:.1f} MB")
    return "\n".join(lines)


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@handle_errors
def models(as_json: bool) -> None:
    """List the model presets (with parameter counts) and the shipped default checkpoint."""
    info = collect()
    click.echo(json.dumps(info, indent=2) if as_json else render(info))
