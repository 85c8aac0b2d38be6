"""Chat backends of the monosemanticity judges: one prompt (text, optionally images) in, the
model's answer out (docs/judges.md).

- `HttpChat`: any server that speaks the OpenAI chat-completions API (vLLM, llama.cpp's
  server, Ollama, ...): a POST of {"model", "messages", "max_tokens", "temperature"} to
  <url>/chat/completions, images as PNG data: URIs in "image_url" content parts; safe to
  call from many threads at once, with retries and backoff, counting the tokens.
- `LocalChat`: a transformers model on this machine: a vision-language model with its
  processor (Qwen2-VL, SmolVLM, Idefics3, ... through the processor's chat template) or a
  text model with its tokenizer; greedy `generate`.

Both are deterministic at temperature 0 (the HTTP server permitting), so a judged record can
be re-asked and compared.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import random
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class ChatError(RuntimeError):
    """A backend that could not answer (unreachable server, an error status that retries did
    not clear, a reply that is not a chat completion)."""


class ChatBackend(Protocol):
    """What a judge needs of a backend: a description for the record and one exchange."""

    name: str

    def complete(self, prompt: str, images: Sequence[np.ndarray] = ()) -> str: ...


@dataclasses.dataclass
class Usage:
    """What a backend's exchanges cost, counted across threads: exchanges answered, tries
    repeated (an error status or a dropped connection), and the tokens of the prompts and
    answers as the server reports them (`unreported`: answers that stated none)."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unreported: int = 0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if not f.name.startswith("_")}


def png_bytes(pixels: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 image as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


#: Statuses worth asking again: a timeout, a rate limit, a server error or overload.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class HttpChat:
    """An OpenAI-compatible chat-completions server at `url` (e.g. http://localhost:8000/v1).

    `api_key` goes in an Authorization: Bearer header when given (local servers need none).
    One client serves every thread (httpx: a pool of `concurrency` kept-alive connections).
    A try that fails with a status of `RETRY_STATUSES` or a dropped or refused connection is
    repeated up to `retries` times after a pause: the server's Retry-After when it gives one,
    else a random share of `backoff` x 2^attempt ("full jitter", so that threads turned away
    together do not return together), never over `max_backoff` seconds. Another status (a
    wrong model, a bad key) is a `ChatError` at once. `usage` counts the exchanges, the tries
    repeated and the tokens. Close it (or use it in a with block) to close its connections.
    """

    def __init__(self, url: str, model: str, *, api_key: str | None = None,
                 max_tokens: int = 64, temperature: float = 0.0, timeout: float = 120.0,
                 retries: int = 6, backoff: float = 1.0, max_backoff: float = 60.0,
                 concurrency: int = 8):
        import httpx

        if retries < 0 or backoff < 0 or concurrency < 1:
            raise ValueError(f"retries and backoff must be >= 0 and concurrency >= 1, got "
                             f"{retries}, {backoff}, {concurrency}")
        self.url, self.model = url.rstrip("/"), model
        self.max_tokens, self.temperature = max_tokens, temperature
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.name = f"http:{model}@{self.url}"
        self.usage = Usage()
        self._jitter = random.Random()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=timeout, headers=headers,
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency))

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def payload(self, prompt: str, images: Sequence[np.ndarray] = ()) -> dict:
        """The request body of one exchange."""
        content: str | list = prompt
        if len(images):
            content = [{"type": "text", "text": prompt}] + [
                {"type": "image_url", "image_url": {
                    "url": "data:image/png;base64," + base64.b64encode(png_bytes(i)).decode()}}
                for i in images]
        return {"model": self.model, "messages": [{"role": "user", "content": content}],
                "max_tokens": self.max_tokens, "temperature": self.temperature}

    def complete(self, prompt: str, images: Sequence[np.ndarray] = ()) -> str:
        import httpx

        body = json.dumps(self.payload(prompt, images)).encode()
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self._client.post(f"{self.url}/chat/completions", content=body,
                                             headers={"Content-Type": "application/json"})
            except httpx.TransportError as error:  # refused, dropped, timed out
                failure = f"no chat server at {self.url}: {error!r}"
            else:
                if response.status_code == 200:
                    return self._answer(response.content)
                detail = response.text[:300]
                failure = f"{self.url} answered {response.status_code}: {detail}"
                if response.status_code not in RETRY_STATUSES:
                    raise ChatError(failure)
            if attempt == self.retries:
                raise ChatError(f"{failure} (after {attempt + 1} tries)")
            self.usage.add(retries=1)
            time.sleep(self._pause(attempt, response))
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, response) -> float:
        """Seconds before try `attempt + 2`: the server's Retry-After (in seconds), else full
        jitter over the exponential backoff; at most `max_backoff`."""
        stated = response.headers.get("Retry-After") if response is not None else None
        try:
            wait = float(stated) if stated is not None else None
        except ValueError:  # an HTTP date: use the backoff
            wait = None
        if wait is None:
            wait = self._jitter.uniform(0, self.backoff * 2 ** attempt)
        return min(max(wait, 0.0), self.max_backoff)

    def _answer(self, body: bytes) -> str:
        try:
            reply = json.loads(body)
            answer = reply["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatError(f"{self.url} did not answer with a chat completion: "
                            f"{body[:200]!r}") from None
        used = reply.get("usage") if isinstance(reply.get("usage"), dict) else None
        if used is None:
            self.usage.add(requests=1, unreported=1)
        else:
            self.usage.add(requests=1, prompt_tokens=int(used.get("prompt_tokens") or 0),
                           completion_tokens=int(used.get("completion_tokens") or 0))
        return answer


class LocalChat:
    """A transformers model with its processor (vision-language) or tokenizer (text only).

    Parameters
    ----------
    model : a generative model in eval mode (`generate`).
    processor : an image-text processor with a chat template, or a tokenizer; a tokenizer
        without a chat template gets the bare prompt.
    """

    def __init__(self, model, processor, *, name: str = "local", max_new_tokens: int = 32):
        self.model, self.processor = model, processor
        self.max_new_tokens = max_new_tokens
        self.name = f"local:{name}"
        self.usage = Usage()

    def close(self) -> None:
        """Nothing to close (the model stays loaded until it is dropped)."""

    @classmethod
    def from_pretrained(cls, directory, *, device: str = "cpu", max_new_tokens: int = 32):
        """A saved model: an image-text-to-text model with its processor when its folder has
        a processor configuration, else a causal LM with its tokenizer."""
        from pathlib import Path

        import transformers

        directory = Path(directory)
        if (directory / "preprocessor_config.json").is_file():
            model = transformers.AutoModelForImageTextToText.from_pretrained(directory)
            processor = transformers.AutoProcessor.from_pretrained(directory)
        else:
            model = transformers.AutoModelForCausalLM.from_pretrained(directory)
            processor = transformers.AutoTokenizer.from_pretrained(directory)
        return cls(model.to(device).eval(), processor, name=directory.name,
                   max_new_tokens=max_new_tokens)

    def _inputs(self, prompt: str, images: Sequence[np.ndarray]):
        from PIL import Image

        parts = [{"type": "image"} for _ in images] + [{"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": parts if len(images) else prompt}]
        template = getattr(self.processor, "chat_template", None)
        text = (self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                   tokenize=False) if template else prompt)
        if len(images):
            pictures = [Image.fromarray(np.asarray(i, dtype=np.uint8)) for i in images]
            return self.processor(text=[text], images=pictures, return_tensors="pt")
        return self.processor([text], return_tensors="pt", add_special_tokens=False)

    def complete(self, prompt: str, images: Sequence[np.ndarray] = ()) -> str:
        import torch

        inputs = self._inputs(prompt, images).to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                      do_sample=False)
        prompt_tokens = inputs["input_ids"].shape[1]
        self.usage.add(requests=1, prompt_tokens=prompt_tokens,
                       completion_tokens=out.shape[1] - prompt_tokens)
        decode = getattr(self.processor, "batch_decode")
        return decode(out[:, prompt_tokens:], skip_special_tokens=True)[0]
