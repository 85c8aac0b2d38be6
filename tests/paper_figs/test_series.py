"""A figure's series keep cross-architecture and seed pairs apart wherever it is drawn from."""

from types import SimpleNamespace

from paper_figs.analysis import architectures_of
from tests.paper_figs.builders import match_record


def test_a_relative_match_path_is_found_from_another_folder(tmp_path, monkeypatch):
    match = match_record("language", 8, 3)
    match = type(match)(**{**match.__dict__,
                           "config": {**match.config, "architectures": ["gpt2", "qwen2"]}})
    folder = tmp_path / "work" / "runs" / "match" / "pair"
    match.save(folder)
    analysed = SimpleNamespace(record=SimpleNamespace(config={"match": "runs/match/pair"}),
                               path=folder / "topk")
    monkeypatch.chdir(tmp_path / "work")
    assert architectures_of(analysed) == "gpt2 x qwen2"
    monkeypatch.chdir(tmp_path)  # drawn from elsewhere: found through the record's ancestors
    assert architectures_of(analysed) == "gpt2 x qwen2"
    lost = SimpleNamespace(record=SimpleNamespace(config={"match": "runs/match/gone"}),
                           path=tmp_path / "elsewhere" / "topk")
    assert architectures_of(lost) == "match runs/match/gone not found"  # never pooled
