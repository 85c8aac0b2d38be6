"""Tiny models of every architecture and a locally trained tokenizer pair, built in code."""

from __future__ import annotations

from pathlib import Path

import open_clip
import torch
import transformers
from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer, processors

from empirics.capture.stimuli import default_corpus
from empirics.models.architectures import ARCHITECTURES
from empirics.models.load import LoadedModel
from empirics.models.registry import ModelSpec

VOCAB = 320


def train_tokenizers() -> tuple[transformers.PreTrainedTokenizerFast,
                                transformers.PreTrainedTokenizerFast]:
    """A byte-level BPE (with a BOS special token) and a unigram/Metaspace tokenizer."""
    texts = [d.text for d in default_corpus()]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=VOCAB, min_frequency=1, show_progress=False,
                            special_tokens=["<s>"])
    bos = bpe.token_to_id("<s>")
    bpe.post_processor = processors.Sequence([  # trimmed offsets, then a BOS as OPT adds
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])])
    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(texts, vocab_size=VOCAB - 40, show_progress=False,
                                unk_token="<unk>", special_tokens=["<unk>", "</s>"])
    fast_bpe = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer,
                                                    bos_token="<s>", eos_token="<s>")
    fast_unigram = transformers.PreTrainedTokenizerFast(tokenizer_object=unigram._tokenizer,
                                                        unk_token="<unk>", eos_token="</s>")
    return fast_bpe, fast_unigram


def tiny_config(architecture: str):
    """A two-layer configuration of each hooked architecture."""
    if architecture == "gpt2":
        return transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=1024,
                                       vocab_size=VOCAB)
    if architecture == "opt":
        return transformers.OPTConfig(hidden_size=32, ffn_dim=64, num_hidden_layers=2,
                                      num_attention_heads=2, word_embed_proj_dim=32,
                                      max_position_embeddings=1024, vocab_size=VOCAB)
    if architecture == "gpt_neox":
        return transformers.GPTNeoXConfig(hidden_size=32, intermediate_size=64,
                                          num_hidden_layers=2, num_attention_heads=2,
                                          vocab_size=VOCAB, rotary_pct=0.25,
                                          max_position_embeddings=1024)
    if architecture == "qwen2":
        return transformers.Qwen2Config(hidden_size=32, intermediate_size=48,
                                        num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, vocab_size=VOCAB,
                                        max_position_embeddings=1024)
    if architecture in ("llama", "mistral", "qwen3"):
        config_class = {"llama": transformers.LlamaConfig, "mistral": transformers.MistralConfig,
                        "qwen3": transformers.Qwen3Config}[architecture]
        return config_class(hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                            vocab_size=VOCAB, max_position_embeddings=1024)
    if architecture in ("dinov2", "dinov2_swiglu"):
        return transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, image_size=56, patch_size=14,
                                         use_swiglu_ffn=architecture == "dinov2_swiglu")
    raise KeyError(architecture)


def tiny_spec(architecture: str, config, kind: str) -> ModelSpec:
    """A user-style ModelSpec for a tiny model (not in the registry)."""
    width = {"opt": "ffn_dim", "gpt2": None}.get(architecture, "intermediate_size")
    d_mlp = 4 * config.n_embd if architecture == "gpt2" else getattr(config, width, None)
    if d_mlp is None:  # DINOv2: from the MLP ratio (SwiGLU keeps 2/3, rounded to 8)
        d_mlp = int(config.hidden_size * config.mlp_ratio)
        if config.use_swiglu_ffn:
            d_mlp = (int(d_mlp * 2 / 3) + 7) // 8 * 8
    n_layers = getattr(config, ARCHITECTURES.get(architecture).depth_field)
    return ModelSpec(name=f"tiny-{architecture}", family="test", kind=kind,
                     loader="transformers", n_params=0, d_mlp=d_mlp, n_layers=n_layers,
                     architecture=architecture, prefix_tokens=1 if kind == "vision" else 0)


def save_text_model(directory: Path, architecture: str, tokenizer, seed: int = 0) -> ModelSpec:
    """Save a tiny random causal LM and its tokenizer with `save_pretrained`."""
    config = tiny_config(architecture)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return tiny_spec(architecture, config, "text")


def save_vision_model(directory: Path, architecture: str = "dinov2", seed: int = 0) -> ModelSpec:
    """Save a tiny random DINOv2 and its image processor (56 px, 4x4 patches)."""
    config = tiny_config(architecture)
    torch.manual_seed(seed)
    transformers.Dinov2Model(config).save_pretrained(directory)
    transformers.BitImageProcessor(size={"shortest_edge": 64},
                                   crop_size={"height": 56, "width": 56}).save_pretrained(directory)
    return tiny_spec(architecture, config, "vision")


def hub_entry(cache: Path, repo_id: str, folder: Path, revision: str = "0" * 40) -> Path:
    """Put the files of `folder` into a Hugging Face cache as the hub lays them out (blobs
    named by their sha256, snapshot links, refs/main), as a download would; the snapshot."""
    import hashlib

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for file in sorted(folder.iterdir()):
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        blob.write_bytes(file.read_bytes())
        link = snapshot / file.name
        link.unlink(missing_ok=True)
        link.symlink_to(Path("../..") / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def tiny_open_clip(seed: int = 0) -> LoadedModel:
    """A two-layer open_clip ViT (48 px, patch 16: a 3x3 grid) with its eval preprocessing."""
    torch.manual_seed(seed)
    vision = open_clip.CLIPVisionCfg(layers=2, width=32, head_width=16, patch_size=16,
                                     image_size=48)
    text = open_clip.CLIPTextCfg(context_length=8, vocab_size=64, width=32, heads=2, layers=1)
    model = open_clip.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=text)
    preprocess = open_clip.image_transform(48, is_train=False)
    spec = ModelSpec(name="tiny-open-clip", family="test", kind="vision", loader="open_clip",
                     n_params=0, d_mlp=128, n_layers=2, architecture="open_clip_vit",
                     open_clip=("tiny", ""), prefix_tokens=1)
    return LoadedModel(spec, model.visual.eval(), preprocess, "open_clip_vit", "random",
                       {"name": "tiny-open-clip", "seed": seed})


def tiny_pmf(directory: Path | None = None, seed: int = 0, *, d_model: int = 32,
             depth: int = 4, name: str = "tiny-pmf"):
    """A four-block pMF (32 px, patch 8: a 4x4 grid, 10 classes; wider or deeper with
    `d_model`, `depth`) with its zero-initialised gates and pixel projection drawn, so that
    its images vary; saved as the state dict `name`.pt in `directory` when given. Returns
    (model, file or None)."""
    from empirics.models.pmf import PixelMeanFlow, PmfConfig, randomise_zero_init

    config = PmfConfig(image_size=32, patch_size=8, d_model=d_model, depth=depth, n_heads=2,
                       head_depth=2, n_classes=10)
    torch.manual_seed(seed)
    model = PixelMeanFlow(config)
    randomise_zero_init(model, torch.Generator().manual_seed(seed + 1))
    if directory is None:
        return model.eval(), None
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), directory / f"{name}.pt")
    return model.eval(), directory / f"{name}.pt"


def tiny_dinov3_config(gated: bool = False, hidden: int = 32, layers: int = 2):
    """A two-layer DINOv3 (32 px, patch 8: a 4x4 grid) with 4 register tokens (wider or
    deeper with `hidden`, `layers`; the MLP 1.5 times as wide)."""
    return transformers.DINOv3ViTConfig(hidden_size=hidden, num_hidden_layers=layers,
                                        num_attention_heads=2,
                                        intermediate_size=3 * hidden // 2, image_size=32,
                                        patch_size=8, num_register_tokens=4,
                                        use_gated_mlp=gated)


def save_dinov3(directory: Path, gated: bool = False, seed: int = 0, *, hidden: int = 32,
                layers: int = 2) -> Path:
    """Save a tiny random DINOv3 and a processor resizing to 32 px (no crop)."""
    torch.manual_seed(seed)
    transformers.DINOv3ViTModel(tiny_dinov3_config(gated, hidden, layers)).save_pretrained(
        directory)
    transformers.DINOv3ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(
        directory)
    return directory


TINY_EVA = "eva02_enormous_tiny_test"


def tiny_eva(seed: int = 0) -> LoadedModel:
    """An open_clip tower on a two-block timm EVA trunk shaped as EVA02-E-14's (plain GELU MLP
    of ratio 15360 / 1792, post-norm), 28 px at patch 14: a 2x2 grid."""
    import timm
    from open_clip.timm_model import TimmModel
    from timm.models.eva import eva02_enormous_patch14_clip_224

    if not timm.is_model(TINY_EVA):
        def build(pretrained=False, **kwargs):
            return eva02_enormous_patch14_clip_224(
                pretrained=False, **dict(dict(img_size=28, embed_dim=28, depth=2,
                                              num_heads=2), **kwargs))
        build.__name__ = TINY_EVA
        timm.models.register_model(build)
    torch.manual_seed(seed)
    visual = TimmModel(TINY_EVA, embed_dim=16, image_size=28, pool="token", proj="linear")
    preprocess = open_clip.image_transform(28, is_train=False)
    spec = ModelSpec(name="tiny-eva", family="test", kind="vision", loader="open_clip",
                     n_params=0, d_mlp=240, n_layers=2, architecture="open_clip_eva",
                     open_clip=("tiny", ""), prefix_tokens=1)
    return LoadedModel(spec, visual.eval(), preprocess, "open_clip_eva", "random",
                       {"name": "tiny-eva", "seed": seed})
