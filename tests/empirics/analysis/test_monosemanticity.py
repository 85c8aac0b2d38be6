"""The monosemanticity judges: the exact random baseline, the scoring, composites, and both
real backends (a chat-completions server on localhost; tiny transformers models built here)."""

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from empirics.analysis.chat import ChatError, HttpChat, LocalChat
from empirics.analysis.judge import judge_neurons, render_examples
from empirics.analysis.monosemanticity import (
    MonosemanticityJudge,
    answer_label,
    composite,
    overlay,
    random_baseline,
    validation_scores,
)
from empirics.records.examples import ExamplesRecord
from empirics.records.judge import JudgeRecord
from empirics.records.match import MatchRecord

K = 15  # examples kept per neuron: up to k = 10 shown, 5 held out


def test_the_random_baseline_is_exact_and_is_the_papers(rng):
    accuracy, f1 = random_baseline(5, 5)
    assert accuracy == 0.5 and f1 == pytest.approx(0.4865138117, abs=1e-10)
    assert round(f1, 4) == 0.4865  # the paper's value
    said = rng.random((200_000, 10)) < 0.5
    labels = [True] * 5 + [False] * 5
    simulated = np.mean([validation_scores(labels, s)[1] for s in said[:40_000]])
    assert simulated == pytest.approx(f1, abs=0.005)
    assert random_baseline(5, 5, p_yes=1.0) == (0.5, pytest.approx(2 / 3))


def test_scores_and_answers():
    assert validation_scores([True, True, False, False], [True, False, False, True]) == (0.5, 0.5)
    assert validation_scores([True, False], [False, True]) == (0.0, 0.0)
    assert [answer_label(a) for a in ("Yes.", " no, it is not", "Maybe", "")] == [
        True, False, None, None]


def test_a_composite_tiles_each_image_beside_its_overlay():
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    heat = np.zeros((2, 2), dtype=np.uint8)
    heat[0, 1] = 255
    lit = overlay(image, heat)
    assert lit[0, 7, 0] == round(0.6 * 255) and lit[7, 0, 0] == 0 and lit[..., 1:].max() == 0
    for k in (2, 5, 50):
        grid = composite([image] * k, [heat] * k)
        columns = int(np.ceil(np.sqrt(k)))
        assert grid.shape == (int(np.ceil(k / columns)) * 10, columns * 22, 3)
    with pytest.raises(ValueError, match="as many maps"):
        composite([image], [])


def text_record() -> tuple[MatchRecord, ExamplesRecord]:
    """4 neurons per side: neuron 0 fires on "def" (code), 1 to 3 on "cat" (prose)."""
    code = "".join(f"def f{i}(x): return x\n" for i in range(40))
    prose = " ".join(f"the cat number {i} sat." for i in range(40))
    texts, starts, ends, inputs = [code, prose], [], [], []
    for i in range(40):
        starts += [code.index(f"def f{i}("), prose.index(f"cat number {i} ")]
        ends += [starts[-2] + 3, starts[-1] + 3]
        inputs += [0, 1]
    first = np.arange(K)  # even samples are "def" spans, odd ones "cat" spans
    samples = np.stack([2 * first, 2 * first + 1, 2 * (first + 15) + 1, 2 * (first + 25) + 1])
    values = np.tile(np.linspace(2, 1, K), (4, 1)).astype(np.float32)
    examples = ExamplesRecord(
        config={}, model_a="ma", model_b="mb", k=K, layer_sizes_a=[4], layer_sizes_b=[4],
        values_a=values, samples_a=samples, values_b=values, samples_b=samples,
        sample_table={"input": np.array(inputs), "start": np.array(starts),
                      "end": np.array(ends)}, inputs=["code", "prose"], texts=texts, images={})
    units = np.array([0, 2], dtype=np.int64)
    match = MatchRecord(
        config={"seed": 0}, family="language", model_a="ma", model_b="mb", size_a=1.0,
        size_b=1.0, null="none", k=1, min_correlation=None, n_tokens=80, n_neurons_a=4,
        n_neurons_b=4, n_rosetta=2, dead_a=0, dead_b=0, layer_sizes_a=[4], layer_sizes_b=[4],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.array([0.9, 0.8])}, rosetta_per_layer_a=np.array([2]),
        rosetta_per_layer_b=np.array([2]), rechecked=False, max_recheck_change=None,
        changed_pairs=0, chunks={})
    return match, examples


class Oracle(BaseHTTPRequestHandler):
    """A chat-completions server whose model calls every concept "def", and says yes to a
    passage that shows "[[def]]"."""

    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Oracle.requests.append(body)
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        answer = ("def keyword" if text.startswith("These are") else
                  "Yes." if "[[def]]" in text else "No.")
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Oracle)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Oracle.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_the_http_judge_validates_on_held_out_examples_and_keeps_every_answer(server, tmp_path,
                                                                              capsys):
    from empirics.judge import main

    match, examples = text_record()
    match.save(tmp_path / "run")
    examples.save(tmp_path / "run" / "examples")
    record, directory = main(["--match", str(tmp_path / "run"), "--url", server, "--model",
                              "oracle", "--ks", "2,10", "--neurons", "2"])
    assert JudgeRecord.load(directory).results == record.results
    assert record.modality == "text" and record.baseline["f1"] == pytest.approx(0.48651, 1e-4)
    rosetta, control = record.results["k10"]["rosetta_a"], record.results["k10"]["control_a"]
    assert rosetta["neurons"] == [0, 2] and sorted(control["neurons"]) == [1, 3]
    by_neuron = dict(zip(rosetta["neurons"] + control["neurons"],
                         rosetta["scores"] + control["scores"]))
    assert by_neuron[0] == 1.0  # the "def" neuron: all 5 + 5 right
    assert by_neuron[1] == by_neuron[2] == by_neuron[3] == 0.0  # cat neurons: no true yes
    assert record.results["k10"]["rosetta_a"]["accuracy"][0] == 1.0
    verdict = rosetta["verdicts"][0]
    assert verdict["description"] == "def keyword" and len(verdict["exchanges"]) == 11
    assert verdict["exchanges"][0]["prompt"].count("[[def]]") == 10
    assert "def keyword" in verdict["exchanges"][1]["prompt"]
    assert len(Oracle.requests) == 2 * 4 * 2 * 11 and Oracle.requests[0]["temperature"] == 0
    assert "judge F1 at k10" in capsys.readouterr().out
    count = len(Oracle.requests)
    main(["--match", str(tmp_path / "run"), "--url", server, "--model", "oracle", "--ks",
          "2,10", "--neurons", "2"])
    assert len(Oracle.requests) == count  # reused: nothing asked again


def test_an_unreachable_or_wrong_server_is_a_clear_error(server):
    with pytest.raises(ChatError, match="answered 404"), \
            HttpChat(server.replace("/v1", "/v2"), "m") as chat:
        chat.complete("hi")
    assert chat.usage.retries == 0  # a 404 is not asked again
    with pytest.raises(ChatError, match=r"no chat server.*\(after 3 tries\)"), \
            HttpChat("http://127.0.0.1:9/v1", "m", timeout=2, retries=2, backoff=0.01) as chat:
        chat.complete("hi")
    assert chat.usage.retries == 2


def test_images_travel_as_png_data_uris(server):
    image = np.full((4, 4, 3), 200, dtype=np.uint8)
    with HttpChat(server, "m") as chat:
        chat.complete("These are", [image])
    part = Oracle.requests[-1]["messages"][0]["content"][1]["image_url"]["url"]
    from PIL import Image

    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(part.split(",", 1)[1]))))
    assert part.startswith("data:image/png;base64,") and (decoded == image).all()


def image_record() -> ExamplesRecord:
    """3 neurons over 40 images of 28 x 28, each with its top K images and 2 x 2 maps."""
    rng = np.random.default_rng(0)
    tops = np.stack([rng.permutation(40)[:K] for _ in range(3)])
    images = {"values_a": np.ones((3, K), np.float32), "inputs_a": tops,
              "maps_a": rng.integers(0, 256, (3, K, 2, 2)).astype(np.uint8),
              "thumbnails": rng.integers(0, 256, (40, 28, 28, 3)).astype(np.uint8),
              "thumbnail_inputs": np.arange(40)}
    images |= {k.replace("_a", "_b"): v for k, v in images.items() if k.endswith("_a")}
    samples = np.tile(np.arange(K), (3, 1))
    return ExamplesRecord(
        config={}, model_a="va", model_b="vb", k=K, layer_sizes_a=[3], layer_sizes_b=[3],
        values_a=images["values_a"], samples_a=samples, values_b=images["values_a"],
        samples_b=samples, sample_table={"input": np.arange(K)},
        inputs=[f"img{i}" for i in range(40)], texts=[], images=images)


def tiny_qwen2_vl():
    """A random-init Qwen2-VL with a character tokenizer and its processor, built in code."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
               "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    vocab = {w: i for i, w in enumerate(special + [chr(c) for c in range(32, 127)] + ["\n"])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="?"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer,
                                                eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": special[1:]})
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is "
                "string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if "
                "c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}"
                "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    processor = transformers.Qwen2VLProcessor(
        image_processor=transformers.Qwen2VLImageProcessor(min_pixels=56 * 56,
                                                           max_pixels=56 * 56 * 4),
        tokenizer=fast, video_processor=Qwen2VLVideoProcessor(), chat_template=template)
    ids = {name: fast.convert_tokens_to_ids(token) for name, token in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"),
        ("vision_end_token_id", "<|vision_end|>"))}
    config = transformers.Qwen2VLConfig(
        text_config=dict(vocab_size=len(fast), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         rope_scaling={"type": "mrope", "mrope_section": [4, 2, 2]},
                         bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, **ids)
    torch.manual_seed(0)
    return transformers.Qwen2VLForConditionalGeneration(config).eval(), processor


@pytest.mark.usefixtures("one_torch_thread")
def test_a_local_vlm_judges_composites_with_generate():
    model, processor = tiny_qwen2_vl()
    backend = LocalChat(model, processor, name="tiny-qwen2-vl", max_new_tokens=4)
    judge = MonosemanticityJudge(backend, k=4, n_heldout=5, modality="image")
    record = image_record()
    found = judge_neurons(judge, record, "a", [1], n_negatives=5,
                          rng=np.random.default_rng(0))
    verdict = found["verdicts"][0]
    assert len(verdict["exchanges"]) == 11 and all(e["images"] == 1
                                                   for e in verdict["exchanges"])
    assert verdict["labels"] == [True] * 5 + [False] * 5
    assert 0 <= found["scores"][0] <= 1 and verdict["f1"] == found["scores"][0]
    shown, = render_examples(record, "a", [1], n_negatives=5, rng=np.random.default_rng(0))
    top = set(record.images["inputs_a"][1].tolist())
    assert not top & {int(n[3:]) for n in shown.negatives}  # negatives are not its own


@pytest.mark.usefixtures("one_torch_thread")
def test_a_local_text_model_annotates_without_a_chat_template():
    import torch
    import transformers

    from tests.empirics.tiny_models import tiny_config

    torch.manual_seed(0)
    config = tiny_config("gpt2")
    config.bos_token_id = config.eos_token_id = 96
    model = transformers.GPT2LMHeadModel(config).eval()
    vocab = {chr(c): i for i, c in enumerate(range(32, 127))} | {"\n": 95, "<eos>": 96}
    from tokenizers import Tokenizer, models, pre_tokenizers

    raw = Tokenizer(models.WordLevel(vocab, unk_token=" "))
    raw.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>")
    answer = LocalChat(model, tokenizer, max_new_tokens=3).complete("Does this show x?")
    ids = tokenizer(["Does this show x?"], return_tensors="pt")["input_ids"]
    greedy = model.generate(ids, max_new_tokens=3, do_sample=False)[0, ids.shape[1]:]
    assert answer == tokenizer.decode(greedy, skip_special_tokens=True) and len(greedy) == 3
