"""Hub ids (`org/name`, `org/name@revision`) resolved to a local folder through huggingface_hub's cache.

Models and adapters people publish live on the Hugging Face hub; ftscope resolves an id once to the
snapshot folder huggingface_hub keeps (downloading it when the hub is reachable and allowed), and from
then on treats it as any local folder. Offline (HF_HUB_OFFLINE=1) only the cache is read, and an id that
is not in it gets one line saying how to get it there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ftscope.errors import ModelError

# org/name with the hub's allowed characters, optionally @revision (a branch, tag or commit)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
# What a weights or adapter folder needs; *.bin/*.pt are never fetched (ftscope loads safetensors only).
ALLOW = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*", "*.tiktoken"]


def is_hub_id(reference: str) -> bool:
    """A string shaped like a hub id that is not an existing local path."""
    return bool(_HUB_ID.match(reference)) and not Path(reference).exists()


def split_revision(reference: str) -> tuple[str, str | None]:
    repo, _, revision = reference.partition("@")
    return repo, revision or None


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def cached(reference: str) -> bool:
    """Whether the hub cache holds this id (at its revision), without asking the hub."""
    from huggingface_hub import try_to_load_from_cache

    repo, revision = split_revision(reference)
    for name in ("config.json", "adapter_config.json"):
        if isinstance(try_to_load_from_cache(repo, name, revision=revision), str):
            return True
    return False


def local_snapshot(reference: str) -> Path:
    """The local folder of a hub id, from the cache (offline) or downloaded into it."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo, revision = split_revision(reference)
    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=ALLOW, local_files_only=offline()))
    except LocalEntryNotFoundError:
        raise ModelError(f"'{reference}': not in the local hub cache and the hub is off (HF_HUB_OFFLINE is set); "
                         "download it once with the hub reachable, or give a local folder") from None
    except RepositoryNotFoundError:
        raise ModelError(f"'{reference}': no such model on the hub (or it is private); check the id, "
                         "or log in with `huggingface-cli login`") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelError(f"'{reference}': the hub could not be reached ({first}); retry, or give a local "
                         "folder") from None
