"""The built-in WordPiece vocabulary for models trained from scratch (no pretrained BERT).

The embedded default model cannot start from bert-base-uncased (no weights are reachable
offline), so its tokenizer is made here: the special tokens, the words of remote-sensing
referring expressions (the synthetic grammar's categories, colours, sizes, shapes,
positions, relations, ordinals), punctuation, and single characters with their ``##``
continuations so that any lowercase ASCII word still tokenises without ``[UNK]``.
The tokenizer is saved inside every checkpoint, so later edits here never change a
trained model.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from geocrobim.errors import UsageError
from geocrobim.models import CroBIM, TextTokenizer
from geocrobim.models.testing import WORDS, make_vocab

#: Words beyond :data:`geocrobim.models.testing.WORDS`, drawn from the synthetic grammar
#: and the RISBench / RRSIS-D / RefSegRS class names.
EXTRA_WORDS = ["largest", "smallest", "biggest", "longest", "widest", "narrowest", "tallest", "closest", "nearest", "farthest", "furthest", "leftmost", "rightmost", "topmost", "bottommost", "northernmost", "southernmost", "easternmost", "westernmost", "northeast", "northwest", "southeast", "southwest", "northeastern", "northwestern", "southeastern", "southwestern", "fourth", "fifth", "sixth", "last", "only", "other", "both", "from", "across", "along", "around", "opposite", "adjacent", "towards", "side", "image", "picture", "scene", "located", "situated", "lying", "standing", "parked", "moored", "sitting", "rectangular", "circular", "oval", "elongated", "triangular", "irregular", "l", "shaped", "shape", "sized", "size", "medium", "tiny", "huge", "colored", "coloured", "pink", "purple", "beige", "silver", "cyan", "teal", "tan", "maroon", "rooftop", "roofs", "flat", "pitched", "industrial", "residential", "commercial", "storage", "tanks", "oil", "helicopter", "airplanes", "ships", "boats", "vehicles", "cars", "trucks", "houses", "buildings", "warehouses", "fields", "courts", "pools", "lakes", "roads", "rivers", "bridges", "roundabouts", "stream", "canal", "pond", "reservoir", "shore", "bank", "banks", "crop", "farmland", "orchard", "meadow", "grass", "lawn", "woods", "woodland", "bare", "soil", "sand", "beach", "expressway", "service", "toll", "area", "diamond", "baseballfield", "basketballcourt", "tenniscourt", "groundtrackfield", "golffield", "storagetank", "trainstation", "stadium", "harbor", "windmill", "chimney", "dam", "overpass", "marking", "road", "sidewalk", "bikeway", "impervious", "surface", "low", "vegetation", "van", "trailer", "directly", "just", "immediately", "slightly", "far", "close", "than", "most", "more", "less", "are", "has", "have", "its", "their", "at", "then", "whose", "containing", "contains", "surrounded", "connected", "crossing", "crosses", "spanning", "runs", "cargo", "circle", "home", "lorry", "lowermost", "lowest", "part", "traffic", "uppermost", "vessel"]


def builtin_words() -> list[str]:
    """The built-in word list, in a fixed order, without duplicates."""
    return list(dict.fromkeys([*WORDS, *EXTRA_WORDS]))


def builtin_tokenizer() -> TextTokenizer:
    """A lowercase WordPiece tokenizer over :func:`builtin_words` (about 600 tokens)."""
    return TextTokenizer.from_vocab(make_vocab(builtin_words()))


#: everyday words kept from GloVe's frequency-ordered list (plus every built-in word).
GLOVE_WORDS = 16000
#: punctuation BERT's basic tokenizer splits off as tokens of their own.
PUNCTUATION = tuple("-,.'()/&:;\"")


def glove_words(count: int = GLOVE_WORDS) -> list[str]:
    """The GloVe vocabulary: the built-in words, then GloVe's ``count`` most frequent alphabetic words."""
    from geocrobim.models.pretrained import load_glove

    words, _ = load_glove()
    common = [w for w in words[: count * 2] if w.isascii() and w.isalpha()][:count]
    return list(dict.fromkeys([*builtin_words(), *common]))


def glove_tokenizer(count: int = GLOVE_WORDS) -> TextTokenizer:
    """A lowercase whole-word tokenizer over :func:`glove_words` (unknown words become ``[UNK]``).

    Unlike :func:`builtin_tokenizer` there are no ``##`` pieces: a word outside the
    vocabulary has no GloVe vector to carry its meaning, and ``[UNK]`` says so plainly.
    """
    from geocrobim.models.text_encoder import SPECIAL_TOKENS

    return TextTokenizer.from_vocab([*SPECIAL_TOKENS, *PUNCTUATION, *glove_words(count)])


def init_word_vectors(model: torch.nn.Module, tokenizer: TextTokenizer, seed: int = 0) -> int:
    """Fill the text encoder's word table with GloVe vectors, zero-padded to its width.

    Tokens without a vector (special tokens, a few grammar words) get random vectors of
    GloVe's scale; ``[PAD]`` stays zero.

    Args:
        model: a :class:`~geocrobim.models.CroBIM` whose text hidden size is >= 50.
        tokenizer: the tokenizer whose ids index the table.
        seed: seed of the random vectors.

    Returns:
        How many tokens got a GloVe vector.
    """
    from geocrobim.models.pretrained import GLOVE_DIM, load_glove

    text_encoder: Any = model.text_encoder  # a TextEncoder (nn.Module attribute lookups are loosely typed)
    table = cast(torch.Tensor, text_encoder.bert.embeddings.word_embeddings.weight)
    rows, width = table.shape
    if width < GLOVE_DIM or rows < tokenizer.vocab_size:
        raise UsageError(
            f"the text encoder's word table is {rows} x {width}; GloVe needs width >= {GLOVE_DIM} and "
            f">= {tokenizer.vocab_size} rows (set text_encoder.hidden and vocab_size)"
        )
    words, vectors = load_glove()
    index = {w: i for i, w in enumerate(words)}
    scale = float(vectors[:GLOVE_WORDS].std())
    rng = np.random.default_rng(seed)
    out = np.zeros((rows, width), np.float32)
    found = 0
    for token, i in tokenizer.tokenizer.get_vocab().items():
        if token == "[PAD]":
            continue
        if token in index:
            out[i, :GLOVE_DIM] = vectors[index[token]]
            found += 1
        else:
            out[i, :GLOVE_DIM] = rng.normal(0.0, scale, GLOVE_DIM)
    with torch.no_grad():
        table.copy_(torch.from_numpy(out))
    return found


#: GloVe words a checkpoint with a frozen GloVe word table is exported with (docs/model.md,
#: "Vocabulary"): 60,000 alphabetic words reach GloVe rank ~70,000 ("hangar", "silo", "jetty",
#: "pylon", "taxiway") for about 5.6 MB more at float16.
EXPORT_GLOVE_WORDS = 60000


def _word_table(model: CroBIM) -> torch.Tensor:
    text_encoder: Any = model.text_encoder  # a TextEncoder (nn.Module attribute lookups are loosely typed)
    return cast(torch.Tensor, text_encoder.bert.embeddings.word_embeddings.weight).detach().float()


def check_glove_table(model: CroBIM, tokenizer: TextTokenizer) -> None:
    """Raise unless every row of a GloVe word is that word's GloVe vector, zero-padded.

    Raises:
        UsageError: the table holds no GloVe vectors, or its rows moved in training.
    """
    from geocrobim.models.pretrained import GLOVE_DIM, load_glove

    table = _word_table(model)
    words, vectors = load_glove()
    index = {w: i for i, w in enumerate(words)}
    known = [(i, index[token]) for token, i in tokenizer.tokenizer.get_vocab().items() if token in index]
    if table.shape[1] < GLOVE_DIM or not known:
        raise UsageError(f"the word table ({tuple(table.shape)}) holds no GloVe vectors; only a GloVe model can grow")
    rows = table[[i for i, _ in known]].numpy()
    glove = vectors[[j for _, j in known]]
    # float16 exports round each value by up to ~1e-3 of its size; a trained row moves far more.
    if not (np.allclose(rows[:, :GLOVE_DIM], glove, rtol=2e-3, atol=2e-3) and not rows[:, GLOVE_DIM:].any()):
        raise UsageError(
            "the word table is not frozen GloVe (its rows moved in training); extend the vocabulary only "
            "of a model trained with word_vectors: glove and freeze_word_vectors: true"
        )


def extend_glove_vocabulary(
    model: CroBIM, tokenizer: TextTokenizer, count: int = EXPORT_GLOVE_WORDS
) -> tuple[CroBIM, TextTokenizer, int]:
    """Add GloVe's ``count`` most common words to a model whose word table is frozen GloVe.

    A frozen table is never trained, so a row appended after training holds exactly what the
    model would have read for that word during training: its GloVe vector, zero-padded to
    the table's width. Training can therefore use a small vocabulary and the export a large
    one. Existing token ids keep their rows; new words are appended after them.

    Args:
        model: a CroBIM whose word table rows are GloVe vectors (``word_vectors: glove`` with
            ``freeze_word_vectors: true``); left unchanged.
        tokenizer: its tokenizer (whole words, as :func:`glove_tokenizer` makes).
        count: how many of GloVe's most common alphabetic words the vocabulary should hold.

    Returns:
        (model, tokenizer, added): a new model with a (V + added, hidden) word table, the
        tokenizer over its vocabulary, and how many words were added (0 returns the inputs).

    Raises:
        UsageError: the table's rows are not GloVe vectors (trained or random): a GloVe row
            appended next to them would mean nothing to the model.
    """
    from geocrobim.models.pretrained import GLOVE_DIM, load_glove

    check_glove_table(model, tokenizer)
    table = _word_table(model)
    vocab = sorted(tokenizer.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    words, vectors = load_glove()
    index = {w: i for i, w in enumerate(words)}
    present = {token for token, _ in vocab}
    new = [w for w in glove_words(count) if w not in present and w in index]
    if not new:
        return model, tokenizer, 0
    grown = TextTokenizer.from_vocab([token for token, _ in vocab] + new)
    config = model.config.replace(**{"text_encoder.vocab_size": len(vocab) + len(new)})
    out = CroBIM(config, load_pretrained=False)
    state = model.state_dict()
    key = "text_encoder.bert.embeddings.word_embeddings.weight"
    extra = torch.zeros((len(new), table.shape[1]), dtype=state[key].dtype)
    extra[:, :GLOVE_DIM] = torch.from_numpy(vectors[[index[w] for w in new]])
    state[key] = torch.cat([state[key][: len(vocab)], extra])
    out.load_state_dict(state)
    out.train(model.training)
    trainable = {name: param.requires_grad for name, param in model.named_parameters()}
    for name, param in out.named_parameters():
        param.requires_grad_(trainable[name])
    return out, grown, len(new)
