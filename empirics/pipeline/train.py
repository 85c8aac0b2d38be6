"""A family of small decoder language models trained here, on the offline corpus, with
transformers' own model classes, so that loading, hooks and matching apply unchanged.

Two architectures with different MLPs and different tokenizers, both trained locally on the
corpus's training split: GPT-2 (GELU MLP of 4d, byte-level BPE) and Qwen2 (SwiGLU MLP of
~8d/3, tied embeddings, a unigram tokenizer with Metaspace pre-tokenization). Each width d
sets the depth (`depth_of`), so MLP neurons grow about 20-fold over the default widths.
Every model trains on its own seed's order of the training documents for
`tokens_per_param` x its non-embedding parameters (a compute-matched budget), AdamW with
linear warm-up and cosine decay (bf16 autocast on CUDA), and is saved with
`save_pretrained` beside its tokenizer and a `train_log.json` (losses, tokens, time,
held-out loss and its tokenizer's unigram baseline on the same held-out tokens, fitted on
the training split: `empirics.analysis.unigram`). A model whose log is complete is
skipped, so an interrupted family resumes model by model (`empirics.pipeline.baseline`
computes the baseline of a model trained before logs kept it).

About 300 lines, kept whole: one training recipe (configuration, tokenizer, budget, loop,
log) whose parts are used nowhere else; the held-out baseline is already apart
(`empirics.analysis.unigram`, `empirics.pipeline.baseline`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from empirics.analysis.unigram import SMOOTHING, scored_targets, unigram_counts, unigram_loss
from empirics.capture.offline import load_corpus
from empirics.capture.windows import tokenized, whole_windows
from empirics.models.architectures import ARCHITECTURES as REGISTERED
from runstore import atomic_write_text
from runstore.devices import device_name
from runstore.options import check_fields, flag
from runstore.progress import progress_bar

#: The registered architectures a family can be trained of (`Architecture.trainable`).
ARCHITECTURES = tuple(a.name for a in REGISTERED if a.trainable)
#: The kind of tokenizer each trains with.
TOKENIZERS = {a.name: a.tokenizer for a in REGISTERED if a.trainable}
LOG = "train_log.json"


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """The family: architectures, widths (d_model), seeds, context, vocabulary, the token
    budget rule, optimiser settings and where models go."""

    corpus: Path = flag(help="a python -m empirics.corpus dir", type=Path)
    out: Path = flag(Path("models/local"), "where the models go")
    architectures: tuple = flag(ARCHITECTURES, "comma-separated: gpt2 (GELU, BPE), qwen2 "
                                "(SwiGLU, unigram)", choices=ARCHITECTURES)
    widths: tuple = flag((8, 16, 24, 32, 48, 64), "model widths d_model", at_least=8)
    seeds: tuple = flag((0, 1), "seeds per width", at_least=0)
    context: int = flag(128, "tokens per window", at_least=2)
    batch: int = flag(16, "windows per step", at_least=1)
    vocab: int = flag(2048, "tokenizer vocabulary", at_least=1)
    tokens_per_param: float = flag(20.0, "training tokens per non-embedding parameter",
                                   above=0.0)
    min_tokens: int = flag(200_000, "training tokens of the smallest models at least",
                           at_least=1)
    lr: float = flag(3e-3, "peak learning rate", above=0.0)
    warmup: float = 0.05
    tokenizer_chars: int = 4_000_000
    heldout_tokens: int = 50_000
    device: str = flag("cpu", "auto (CUDA when present), cpu, cuda", type=device_name,
                       flag_default="auto")
    force: bool = flag(False, "retrain models already saved")

    def __post_init__(self):
        check_fields(self)


def depth_of(width: int) -> int:
    """Layers of a model of width d: deeper as it widens (2 layers up to d = 24, then 3, 4)."""
    return 2 if width <= 24 else 3 if width <= 48 else 4


def heads_of(width: int) -> int:
    return max(2, width // 16)


def mlp_width(architecture: str, width: int) -> int:
    """Neurons per MLP layer of a member of width d: the architecture's rule (GPT-2: 4d; Qwen2:
    about 8d/3 rounded up to a multiple of 8, a SwiGLU MLP with about the parameters of the
    GELU one)."""
    return REGISTERED.get(architecture).mlp_width(width)


def mlp_neurons(architecture: str, width: int) -> int:
    """MLP neurons over all layers of a member of the family."""
    return depth_of(width) * mlp_width(architecture, width)


def model_config(architecture: str, width: int, settings: TrainSettings, tokenizer):
    """The transformers configuration of one member of the family (the architecture's
    `small_config`)."""
    common = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id)
    return REGISTERED.get(architecture).small_config(
        width, depth_of(width), heads_of(width), mlp_width(architecture, width),
        settings.context, **common)


def train_tokenizer(kind: str, texts: list[str], vocab: int):
    """A byte-level BPE ("bpe") or unigram ("unigram") tokenizer trained on `texts`."""
    import transformers
    from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer

    if kind == "bpe":
        trainer = ByteLevelBPETokenizer()
        trainer.train_from_iterator(texts, vocab_size=vocab, min_frequency=2,
                                    show_progress=False, special_tokens=["<|endoftext|>"])
        return transformers.PreTrainedTokenizerFast(
            tokenizer_object=trainer._tokenizer, bos_token="<|endoftext|>",
            eos_token="<|endoftext|>")
    trainer = SentencePieceUnigramTokenizer()
    trainer.train_from_iterator(texts, vocab_size=vocab, show_progress=False,
                                unk_token="<unk>", special_tokens=["<unk>", "<s>", "</s>"])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=trainer._tokenizer,
                                                unk_token="<unk>", bos_token="<s>",
                                                eos_token="</s>")


def _tokenizer(kind: str, settings: TrainSettings, corpus):
    """The family's tokenizer of `kind`, trained once on the first `tokenizer_chars`
    characters of the training split and saved under out/tokenizers/."""
    import transformers

    key = hashlib.sha256(f"{kind}{settings.vocab}{settings.tokenizer_chars}{corpus.sha256}"
                         .encode()).hexdigest()[:12]
    directory = settings.out / "tokenizers" / f"{kind}-{key}"
    if (directory / "tokenizer.json").is_file():
        return transformers.PreTrainedTokenizerFast.from_pretrained(directory)
    texts, total = [], 0
    for document in corpus.documents("train"):
        texts.append(document.text)
        total += len(document.text)
        if total >= settings.tokenizer_chars:
            break
    tokenizer = train_tokenizer(kind, texts, settings.vocab)
    tokenizer.save_pretrained(directory)
    return tokenizer


def token_ids(tokenizer, documents, *, limit: int, seed: int | None) -> np.ndarray:
    """Up to `limit` token ids of the documents (in a `seed`-shuffled order; None: as they
    are), each followed by the end-of-text token."""
    order = np.arange(len(documents))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(documents))
    pieces, total = [], 0
    for ids in tokenized(tokenizer, [documents[i] for i in order]):
        pieces.append(np.append(ids, np.int64(tokenizer.eos_token_id)))
        total += len(pieces[-1])
        if total >= limit:
            break
    return np.concatenate(pieces)[:limit]


def non_embedding_params(model) -> int:
    """Parameters outside the token and position embeddings (and a tied or untied head)."""
    skip = {id(p) for m in (model.get_input_embeddings(), model.get_output_embeddings())
            if m is not None for p in m.parameters()}
    skip |= {id(p) for n, p in model.named_parameters() if n.endswith("wpe.weight")}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def learning_rate(step: int, steps: int, settings: TrainSettings) -> float:
    """Linear warm-up over `warmup` of the steps, then cosine decay to a tenth."""
    warm = max(1, int(settings.warmup * steps))
    if step < warm:
        return settings.lr * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def batches(tokens: np.ndarray, context: int, batch: int, steps: int, *, seed: int):
    """`steps` batches (batch, context + 1) of windows cut from the token stream in turn
    (the stream wraps when the budget outruns it)."""
    blocks = torch.from_numpy(whole_windows(tokens, context + 1))
    windows = len(blocks)
    if windows < 1:
        raise ValueError(f"{len(tokens)} tokens cannot fill one window of {context + 1}")
    order = torch.randperm(windows, generator=torch.Generator().manual_seed(seed))
    for step in range(steps):
        index = order[(step * batch + torch.arange(batch)) % windows]
        yield blocks[index]


def optimise(model, blocks, steps: int, settings, *, progress: bool = False,
             desc: str = "") -> list[float]:
    """Train `model` on `steps` batches of `blocks` with the family's optimiser: AdamW (weight
    decay 0.1, betas 0.9 / 0.95), `learning_rate`'s schedule of `settings.lr` and
    `settings.warmup`, gradients clipped to norm 1, bf16 autocast on CUDA (float32 on CPU),
    on `settings.device`. Returns the loss of every step; leaves the model in eval mode."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.1,
                                  betas=(0.9, 0.95))
    losses = []
    cuda = str(settings.device).startswith("cuda")
    model.train()
    for step, block in enumerate(progress_bar(blocks, total=steps, show=progress, desc=desc)):
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, steps, settings)
        block = block.to(settings.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = model(block[:, :-1], labels=block[:, :-1]).loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def heldout_loss(model, tokens: np.ndarray, context: int, device) -> float:
    """Mean next-token cross-entropy on the held-out tokens (whole windows)."""
    blocks = torch.from_numpy(whole_windows(tokens, context + 1))
    windows = len(blocks)
    total = 0.0
    for start in range(0, windows, 32):
        chunk = blocks[start:start + 32].to(device)
        total += model(chunk[:, :-1], labels=chunk[:, :-1]).loss.item() * len(chunk)
    return total / max(windows, 1)


def unigram_baseline(tokenizer, train_docs, heldout: np.ndarray, context: int) -> dict:
    """The tokenizer's unigram baseline (`empirics.analysis.unigram`): token counts of the
    whole training split (each document followed by the end-of-text token, as in training),
    scored on the held-out tokens that `heldout_loss` scores. The train log's fields."""
    counts = unigram_counts(tokenized(tokenizer, train_docs), len(tokenizer),
                            tokenizer.eos_token_id)
    return baseline_fields(counts, heldout, context)


def baseline_fields(counts: np.ndarray, heldout: np.ndarray, context: int) -> dict:
    """The train log's fields of a unigram baseline from the training split's `counts`."""
    return {"unigram_loss": unigram_loss(counts, scored_targets(heldout, context)),
            "unigram_train_tokens": int(counts.sum()), "unigram_smoothing": SMOOTHING}


def train_model(architecture: str, width: int, seed: int, settings: TrainSettings, *,
                tokenizer, train_docs, heldout: np.ndarray, corpus_sha256: str = "",
                baseline: dict | None = None, progress: bool = False) -> Path:
    """Train one member of the family and save it (model, tokenizer, train_log.json with
    `baseline`, the tokenizer's `unigram_baseline`, beside the held-out loss)."""
    import transformers

    directory = settings.out / f"{architecture}-w{width}-s{seed}"
    if (directory / LOG).is_file() and not settings.force:
        return directory
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(
        model_config(architecture, width, settings, tokenizer)).to(settings.device)
    body = non_embedding_params(model)
    budget = max(settings.min_tokens, int(settings.tokens_per_param * body))
    steps = max(1, budget // (settings.batch * settings.context))
    tokens = token_ids(tokenizer, train_docs, limit=budget + settings.context + 1, seed=seed)
    started = time.perf_counter()
    blocks = batches(tokens, settings.context, settings.batch, steps, seed=seed)
    losses = optimise(model, blocks, steps, settings, progress=progress, desc=directory.name)
    log = {"architecture": architecture, "width": width, "seed": seed,
           "layers": depth_of(width), "non_embedding_params": body,
           "params": sum(p.numel() for p in model.parameters()),
           "tokens": steps * settings.batch * settings.context, "steps": steps,
           "seconds": time.perf_counter() - started, "first_loss": losses[0],
           "last_loss": float(np.mean(losses[-max(1, steps // 20):])),
           "heldout_loss": heldout_loss(model, heldout, settings.context, settings.device),
           **(baseline or {}), "corpus_sha256": corpus_sha256,
           "tokenizer": REGISTERED.get(architecture).tokenizer,
           "settings": {k: str(v) if isinstance(v, Path) else v
                        for k, v in dataclasses.asdict(settings).items()}}
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    atomic_write_text(directory / LOG, json.dumps(log, indent=2, sort_keys=True))
    return directory


def train_family(settings: TrainSettings, *, progress: bool = False) -> list[Path]:
    """Train (or resume) every architecture x width x seed of `settings`; the directories in
    order. The held-out loss of every model is measured on the same held-out tokens of its
    tokenizer."""
    corpus = load_corpus(settings.corpus)
    train_docs, heldout_docs = corpus.documents("train"), corpus.documents("heldout")
    written = []
    for architecture in settings.architectures:
        tokenizer = _tokenizer(REGISTERED.get(architecture).tokenizer, settings, corpus)
        heldout = token_ids(tokenizer, heldout_docs, limit=settings.heldout_tokens, seed=None)
        baseline = unigram_baseline(tokenizer, train_docs, heldout, settings.context)
        for width in settings.widths:
            for seed in settings.seeds:
                written.append(train_model(architecture, width, seed, settings,
                                           tokenizer=tokenizer, train_docs=train_docs,
                                           heldout=heldout, corpus_sha256=corpus.sha256,
                                           baseline=baseline, progress=progress))
    return written


def read_logs(directories) -> list[dict]:
    """The train logs of saved models, in order."""
    return [json.loads((Path(d) / LOG).read_text()) for d in directories]
