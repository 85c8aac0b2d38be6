"""python -m empirics.judge: a VLM judge (image neurons) or an LLM annotator (text neurons) of
a match run's Rosetta and control neurons, with a 5 + 5 held-out validation (docs/judges.md).

    python -m empirics.judge --match RUN_DIR --backend http --url http://localhost:8000/v1
           --model NAME [--api-key-env VAR] [--ks 2,5,10,20,50] [--neurons 8]
    python -m empirics.judge --match RUN_DIR --backend local --local MODEL_DIR [--device cuda]

The judge sees each neuron's top-k examples (images: a composite with the activation map
overlaid), names the concept they share, then answers yes or no for 5 held-out positives and 5
negatives; a neuron's score is the F1 of those answers (random: 0.4865). Any server that
speaks the OpenAI chat-completions API works (vLLM, llama.cpp, Ollama), asked --concurrency
exchanges at once (8), each repeated with backoff after a rate limit, a server error or a
dropped connection (--retries, --backoff); --backend local runs a saved transformers model.
The record and the last line state the exchanges, the tries repeated and the tokens.
Writes a JudgeRecord (every prompt and raw answer) in RUN_DIR/judge/ and prints the table
k x population -> F1, accuracy. The work is `empirics.pipeline.judge.run_judge`.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from empirics.analysis.chat import ChatError
from empirics.pipeline.judge import HTTP_CONCURRENCY, JudgeSettings, run_judge
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from runstore.options import int_list


def build_parser() -> argparse.ArgumentParser:
    d = JudgeSettings
    p = command_parser("python -m empirics.judge", __doc__)
    p.add_argument("--match", type=Path, required=True, help="a match run with examples/")
    p.add_argument("--backend", default=d.backend, help="http (a chat server) or local")
    p.add_argument("--url", default=d.url, help="base URL of the chat-completions server")
    p.add_argument("--model", default=d.model, help="model name the server serves")
    p.add_argument("--api-key-env", help="environment variable holding the server's API key")
    p.add_argument("--local", type=Path, help="a saved transformers model (--backend local)")
    p.add_argument("--modality", default=d.modality, help="auto, image or text")
    p.add_argument("--ks", type=int_list, default=d.ks, help="examples shown to describe")
    p.add_argument("--heldout", type=int, default=d.n_heldout,
                   help="held-out positives and negatives per neuron")
    p.add_argument("--neurons", type=int, default=d.neurons,
                   help="Rosetta and control neurons judged per model")
    p.add_argument("--max-tokens", type=int, default=d.max_tokens, help="tokens per answer")
    p.add_argument("--seed", type=int, default=d.seed, help="neurons and negatives drawn")
    p.add_argument("--level", type=float, default=d.level, help="coverage of the intervals")
    p.add_argument("--device", default=d.device, help="device of --backend local")
    p.add_argument("--concurrency", type=int, default=d.concurrency,
                   help=f"exchanges in flight at once (default: {HTTP_CONCURRENCY} with "
                        "--backend http, 1 with local)")
    p.add_argument("--retries", type=int, default=d.retries,
                   help="tries repeated per exchange after a rate limit (429), a server error "
                        "(5xx) or a dropped connection")
    p.add_argument("--backoff", type=float, default=d.backoff,
                   help="seconds: the pause before a try repeated is drawn up to backoff x "
                        "2^attempt (at most 60), unless the server says Retry-After")
    p.add_argument("--force", action="store_true", help="judge again")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per exchange
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and key is None:
        parser.error(f"--api-key-env {args.api_key_env}: that variable is not set")
    try:
        settings = JudgeSettings(
            match=args.match, backend=args.backend, url=args.url, model=args.model,
            api_key=key, local=args.local, modality=args.modality, ks=tuple(args.ks),
            n_heldout=args.heldout, neurons=args.neurons, max_tokens=args.max_tokens,
            seed=args.seed, level=args.level, device=str(resolve_device(args.device)),
            force=args.force, concurrency=args.concurrency, retries=args.retries,
            backoff=args.backoff)
    except ValueError as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError, ChatError)):
        record, directory, _ = run_judge(settings)
        print(f"{directory}  {record.headline()}")
        print(record.usage_text())
        print(record.to_frame().to_string(index=False, float_format="%.3f"))
    return record, directory


if __name__ == "__main__":
    main()
