"""Words the training grammar never used: does the model still find the object?

    python bench/paraphrases.py [--checkpoint default] [--samples 400] [--seed 0] [--rare] [--json OUT]

Users type "depot", "crimson" or "automobile"; the synthetic grammar says "warehouse",
"red" and "car". This bench renders held-out chips (the ``test`` stream of ``--seed``,
256 px, GSD 0.3-2 m), keeps the expressions that contain a word of :data:`PARAPHRASES`,
and scores each three ways with the same model:

- ``original``: the grammar's expression;
- ``paraphrase``: every such word replaced by its everyday synonym (none of them is a
  word of the built-in grammar vocabulary; all are in GloVe's);
- ``unknown``: every such word replaced by a made-up word (``[UNK]`` for a whole-word
  vocabulary, meaningless pieces for a WordPiece one): what is left when the word
  carries nothing.

A text side that generalises puts ``paraphrase`` close to ``original`` and above
``unknown``. The last line is the summary: the share of the original mIoU that the
paraphrases keep (``paraphrase / original``). ``--rare`` uses :data:`RARE_PARAPHRASES`,
synonyms that only a vocabulary grown past the training words knows ("storehouse",
"dinghy", "vermilion"): run it on a checkpoint before and after
:func:`geocrobim.training.vocab.extend_glove_vocabulary` to see what the grown rows carry.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocrobim.data.synthetic.chips import DEFAULT_GSDS, ChipGenerator
from geocrobim.models import load_checkpoint
from geocrobim.models.head import foreground_logit
from geocrobim.models.predictor import IMAGENET_MEAN, IMAGENET_STD
from geocrobim.training.metrics import intersection_union, summarize

#: grammar word -> everyday synonym the grammar never uses (written for this bench).
PARAPHRASES = {
    "warehouse": "depot",
    "house": "cottage",
    "home": "residence",
    "ship": "barge",
    "vessel": "barge",
    "boat": "yacht",
    "car": "automobile",
    "vehicle": "automobile",
    "red": "crimson",
    "white": "ivory",
    "blue": "navy",
    "large": "massive",
    "building": "structure",
}
#: grammar word -> a rarer synonym (GloVe frequency rank 22,000-54,000): outside the 16,000
#: words the shipped models trained with, inside the 60,000 an export adds (docs/model.md,
#: "Vocabulary"). ``--rare`` scores these instead.
RARE_PARAPHRASES = {
    "warehouse": "storehouse",
    "house": "bungalow",
    "home": "townhouse",
    "ship": "steamship",
    "vessel": "steamship",
    "boat": "dinghy",
    "car": "hatchback",
    "vehicle": "hatchback",
    "red": "vermilion",
    "white": "alabaster",
    "blue": "azure",
    "large": "colossal",
    "building": "edifice",
}
NONSENSE = "blorvex"


def rewrite(text: str, mapping: dict[str, str] | None) -> str:
    """Replace whole words of :data:`PARAPHRASES` (by ``mapping``, or by :data:`NONSENSE`)."""
    pattern = r"\b(" + "|".join(PARAPHRASES) + r")\b"
    return re.sub(pattern, lambda m: mapping[m.group(1).lower()] if mapping else NONSENSE, text, flags=re.IGNORECASE)


def score(model: torch.nn.Module, tokenizer, max_tokens: int, chips: list, texts: list[str]) -> dict[str, float]:
    """mIoU, oIoU and P@0.5 of ``texts`` (one per chip)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    inters, unions = [], []
    for start in range(0, len(chips), 16):
        batch = chips[start : start + 16]
        images = torch.from_numpy(np.stack([c.image for c in batch])).permute(0, 3, 1, 2).float() / 255.0
        ids, mask = tokenizer(texts[start : start + 16], max_tokens)
        with torch.inference_mode():
            logits = model((images - mean) / std, ids, mask)
        pred = (foreground_logit(logits) > 0).numpy()
        i, u = intersection_union(pred, np.stack([c.mask for c in batch]) > 0)
        inters.append(i)
        unions.append(u)
    return summarize(np.concatenate(inters), np.concatenate(unions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--samples", type=int, default=400, help="expressions with a paraphrasable word")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rare", action="store_true", help="score the rarer synonyms of RARE_PARAPHRASES")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # Unknown words are the point of the bench: the tokenizer's warning per expression is noise here.
    logging.getLogger("geocrobim.models.text_encoder").setLevel(logging.ERROR)
    synonyms = RARE_PARAPHRASES if args.rare else PARAPHRASES

    ckpt = load_checkpoint(args.checkpoint)
    gen = ChipGenerator(size=256, gsds=DEFAULT_GSDS, seed=args.seed, split="test", per_scene=1)
    chips, index = [], 0
    while len(chips) < args.samples:
        for sample in gen.scene(index):
            if rewrite(sample.expression, PARAPHRASES) != sample.expression:
                chips.append(sample)
        index += 1
    chips = chips[: args.samples]
    result = {"checkpoint": str(ckpt.path), "model_id": ckpt.metadata.get("model_id"), "samples": len(chips),
              "synonyms": "rare" if args.rare else "common", "unknown_synonyms": sorted(
                  {w for w in synonyms.values() if ckpt.tokenizer.unknown_words(w)})}  # fmt: skip
    for name, mapping in (("original", "keep"), ("paraphrase", synonyms), ("unknown", None)):
        texts = [c.expression if mapping == "keep" else rewrite(c.expression, mapping) for c in chips]  # type: ignore[arg-type]
        m = score(ckpt.model, ckpt.tokenizer, ckpt.config.max_tokens, chips, texts)
        result[name] = {k: round(float(m[k]), 4) for k in ("mIoU", "oIoU", "P@0.5")}
        print(f"{name:11s} mIoU {m['mIoU']:.3f}  oIoU {m['oIoU']:.3f}  P@0.5 {m['P@0.5']:.3f}   e.g. {texts[0]!r}")
    kept = result["paraphrase"]["mIoU"] / max(result["original"]["mIoU"], 1e-9)
    unknown = result["unknown"]["mIoU"] / max(result["original"]["mIoU"], 1e-9)
    result["paraphrase_over_original"] = round(kept, 3)
    result["unknown_over_original"] = round(unknown, 3)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"summary: {result['synonyms']} paraphrases keep {kept:.2f} of the original mIoU (made-up words: "
          f"{unknown:.2f}), {len(chips)} expressions, {result['model_id']}, "
          f"{len(result['unknown_synonyms'])} synonyms outside its vocabulary")  # fmt: skip


if __name__ == "__main__":
    main()
