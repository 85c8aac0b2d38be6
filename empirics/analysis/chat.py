"""Chat backends of the monosemanticity judges: one prompt (text, optionally images) in, the
model's answer out (docs/judges.md).

- `HttpChat`: any server that speaks the OpenAI chat-completions API (vLLM, llama.cpp's
  server, Ollama, ...): a POST of {"model", "messages", "max_tokens", "temperature"} to
  <url>/chat/completions, images as PNG data: URIs in "image_url" content parts.
- `LocalChat`: a transformers model on this machine: a vision-language model with its
  processor (Qwen2-VL, SmolVLM, Idefics3, ... through the processor's chat template) or a
  text model with its tokenizer; greedy `generate`.

Both are deterministic at temperature 0 (the HTTP server permitting), so a judged record can
be re-asked and compared.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from typing import Protocol, Sequence

import numpy as np


class ChatError(RuntimeError):
    """A backend that could not answer (unreachable server, an error status, a reply that is
    not a chat completion)."""


class ChatBackend(Protocol):
    """What a judge needs of a backend: a description for the record and one exchange."""

    name: str

    def complete(self, prompt: str, images: Sequence[np.ndarray] = ()) -> str: ...


def png_bytes(pixels: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 image as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class HttpChat:
    """An OpenAI-compatible chat-completions server at `url` (e.g. http://localhost:8000/v1).

    `api_key` goes in an Authorization: Bearer header when given (local servers need none).
    """

    def __init__(self, url: str, model: str, *, api_key: str | None = None,
                 max_tokens: int = 64, temperature: float = 0.0, timeout: float = 120.0):
        self.url, self.model = url.rstrip("/"), model
        self.api_key, self.max_tokens = api_key, max_tokens
        self.temperature, self.timeout = temperature, timeout
        self.name = f"http:{model}@{self.url}"

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
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.url}/chat/completions", method="POST",
                                         data=json.dumps(self.payload(prompt, images)).encode(),
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode("utf-8", errors="replace")
            raise ChatError(f"{self.url} answered {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ChatError(f"no chat server at {self.url}: {error}") from None
        try:
            return json.loads(body)["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatError(f"{self.url} did not answer with a chat completion: "
                            f"{body[:200]!r}") from None


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
        decode = getattr(self.processor, "batch_decode")
        return decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
