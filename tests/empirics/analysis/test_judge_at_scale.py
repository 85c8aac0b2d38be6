"""The judges at scale: exchanges in flight at once, rate limits, server errors and dropped
connections retried with backoff, and the tokens counted, against a real chat-completions
server on localhost that misbehaves on purpose."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from empirics.analysis.chat import ChatError, HttpChat
from empirics.records.judge import JudgeRecord
from tests.empirics.analysis.test_monosemanticity import text_record


class Unruly:
    """What the server did: requests received, in flight now and at most, the failures it
    served by kind, and the tokens of the answers it gave."""

    def __init__(self, fail_every: dict[str, int], delay: float = 0.02, retry_after="0"):
        self.fail_every, self.delay, self.retry_after = fail_every, delay, retry_after
        self.lock = threading.Lock()
        self.received = self.in_flight = self.most_in_flight = 0
        self.failures = {kind: 0 for kind in fail_every}
        self.answered = self.prompt_tokens = self.completion_tokens = 0

    def arrive(self) -> tuple[int, str | None]:
        with self.lock:
            self.received += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            number = self.received
            fault = next((kind for kind, every in self.fail_every.items()
                          if number % every == 0), None)
            if fault:
                self.failures[fault] += 1
            return number, fault

    def leave(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self.lock:
            self.in_flight -= 1
            if completion_tokens:
                self.answered += 1
                self.prompt_tokens += prompt_tokens
                self.completion_tokens += completion_tokens


def handler_for(state: Unruly):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        wbufsize = 1 << 16  # an answer in one write (no 40 ms wait on a delayed ACK)

        def do_POST(self):  # http.server calls it by this name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            _, fault = state.arrive()
            time.sleep(state.delay)  # long enough for the client's threads to overlap
            if fault == "drop":  # the connection closes with no answer
                state.leave()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault in ("429", "500"):
                state.leave()
                self._send(int(fault), b'{"error": "try later"}',
                           {"Retry-After": state.retry_after} if fault == "429" else {})
                return
            content = body["messages"][-1]["content"]
            text = content if isinstance(content, str) else content[0]["text"]
            answer = ("def keyword" if text.startswith("These are") else
                      "Yes." if "[[def]]" in text else "No.")
            usage = {"prompt_tokens": len(text.split()),
                     "completion_tokens": len(answer.split())}
            state.leave(usage["prompt_tokens"], usage["completion_tokens"])
            self._send(200, json.dumps({"choices": [{"message": {"content": answer}}],
                                        "usage": usage}).encode())

        def _send(self, status: int, data: bytes, headers: dict | None = None):
            self.send_response(status)
            for name, value in {"Content-Type": "application/json",
                                "Content-Length": str(len(data)), **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def serve():
    servers = []

    def start(state: Unruly) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def judged(tmp_path, name: str, url: str, *flags) -> JudgeRecord:
    from empirics.judge import main

    match, examples = text_record()
    match.save(tmp_path / name)
    examples.save(tmp_path / name / "examples")
    record, _ = main(["--match", str(tmp_path / name), "--url", url, "--model", "oracle",
                      "--ks", "2,10", "--neurons", "2", "--backoff", "0.01", *flags])
    return record


def test_a_judge_runs_exchanges_at_once_retries_failures_and_counts_tokens(serve, tmp_path,
                                                                           capsys, caplog):
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)
    unruly = Unruly({"429": 7, "500": 11, "drop": 13})
    record = judged(tmp_path, "busy", serve(unruly), "--concurrency", "4")
    exchanges = 2 * 4 * 2 * 11  # ks x populations and sides x neurons x (1 + 5 + 5)
    assert 1 < unruly.most_in_flight <= 4
    assert all(unruly.failures.values())  # every kind of failure was served
    assert record.usage == {"requests": exchanges, "retries": sum(unruly.failures.values()),
                            "prompt_tokens": unruly.prompt_tokens,
                            "completion_tokens": unruly.completion_tokens, "unreported": 0}
    assert unruly.answered == exchanges
    assert unruly.received == exchanges + sum(unruly.failures.values())
    assert not [r for r in caplog.records if r.name.startswith("httpx")]  # none per exchange
    out = capsys.readouterr().out
    assert (f"usage: {exchanges} exchanges ({record.usage['retries']} tries repeated), "
            f"{unruly.prompt_tokens} prompt + {unruly.completion_tokens} answer tokens") in out
    # one thread on a server that never fails: the same verdicts, in the same order
    calm = Unruly({}, delay=0)
    alone = judged(tmp_path, "calm", serve(calm), "--concurrency", "1")
    assert calm.most_in_flight == 1 and alone.usage["retries"] == 0
    assert alone.results == record.results and alone.pooled == record.pooled
    by_neuron = dict(zip(record.results["k10"]["rosetta_a"]["neurons"],
                         record.results["k10"]["rosetta_a"]["scores"]))
    assert by_neuron[0] == 1.0  # the "def" neuron judged right through the failures
    assert JudgeRecord.load(tmp_path / "busy" / "judge" / next(
        p.name for p in (tmp_path / "busy" / "judge").iterdir())).usage == record.usage


def test_a_server_that_keeps_failing_is_an_error_after_the_retries(serve):
    url = serve(Unruly({"500": 1}, delay=0))
    with pytest.raises(ChatError, match=r"answered 500.*\(after 4 tries\)"), \
            HttpChat(url, "m", retries=3, backoff=0.001) as chat:
        chat.complete("hello")
    assert chat.usage.as_dict() | {"retries": 3} == chat.usage.as_dict()
    assert chat.usage.requests == 0


def test_retry_after_is_honoured_and_the_backoff_grows(serve):
    unruly = Unruly({"429": 2}, delay=0, retry_after="0.3")
    with HttpChat(serve(unruly), "m", backoff=0.001) as chat:
        chat.complete("These are")  # request 1: answered
        started = time.perf_counter()
        assert chat.complete("These are") == "def keyword"  # 2: a 429, then 3: answered
        assert time.perf_counter() - started >= 0.3
        assert chat.usage.retries == 1 and chat.usage.requests == 2
        pauses = [chat._pause(attempt, None) for attempt in range(8) for _ in range(50)]
    assert max(pauses[:50]) <= 0.001 and max(pauses[-50:]) > 0.001 * 2 ** 6
    assert chat._pause(30, None) <= chat.max_backoff


def test_a_local_backend_takes_one_prompt_at_a_time(tmp_path):
    from empirics.pipeline.judge import JudgeSettings

    assert JudgeSettings(tmp_path, backend="local", local=tmp_path).concurrency == 1
    assert JudgeSettings(tmp_path, model="m").concurrency == 8
    with pytest.raises(ValueError, match="--backend local answers one prompt at a time"):
        JudgeSettings(tmp_path, backend="local", local=tmp_path, concurrency=4)
    with pytest.raises(ValueError, match="--concurrency must be >= 1"):
        JudgeSettings(tmp_path, model="m", concurrency=0)
