"""The ground floor every stage stands on: records (frozen dataclasses saved as JSON plus
safetensors arrays), atomic writes, and run directories keyed by the whole config.

Torch-free, and importing nothing of the package's stages (docs/design.md, "Layers").
"""

from runstore.arrays import tidy
from runstore.commands import add_debug_flag, reported
from runstore.files import STALE_AFTER_S, atomic_write_bytes, atomic_write_text
from runstore.header import (
    RECORD_FILE,
    RecordError,
    from_json_ready,
    git_revision,
    package_version,
    read_header,
    to_json_ready,
)
from runstore.record import Record
from runstore.runs import (
    config_hash,
    find_records,
    load_any,
    made_with,
    record_exists,
    reusable,
    reuse_or_build,
    run_dir,
)

__all__ = [
    "add_debug_flag", "reported", "RECORD_FILE", "STALE_AFTER_S", "Record", "RecordError",
    "atomic_write_bytes",
    "atomic_write_text", "config_hash", "find_records", "from_json_ready", "git_revision",
    "load_any", "made_with", "package_version", "read_header", "record_exists", "reusable",
    "reuse_or_build", "run_dir", "tidy", "to_json_ready",
]
