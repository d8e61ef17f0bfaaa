"""requirements.lock pins every package with sha256 hashes, set-up installs in pip's hash-checking
mode, and pip really refuses a file whose hash is not the locked one (a real download from the
registry: with no network this fails, it does not skip)."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from lab.config import ROOT

LOCK = ROOT / "requirements.lock"
SETUP = ROOT / "scripts" / "setup.sh"
MISMATCH = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"
SMALL_PURE_PYTHON = "iniconfig"
HASH = re.compile(r"--hash=sha256:(\S+)")
HEX64 = re.compile(r"[0-9a-f]{64}")


def lock_entries() -> dict[str, str]:
    """Requirement name (lower case) -> its whole entry, continuation lines joined."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    return {re.split(r"[=<>!~ ;\[]", entry, maxsplit=1)[0].lower(): entry for entry in entries}


def test_every_locked_package_is_pinned_with_sha256_hashes():
    entries = lock_entries()
    assert len(entries) > 10, f"requirements.lock looks empty: {list(entries)}"
    for name, entry in entries.items():
        requirement = entry.split()[0]
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", requirement), f"not pinned with ==: {entry}"
        hashes = HASH.findall(entry)
        assert hashes, f"{name} has no --hash=sha256:"
        assert all(HEX64.fullmatch(h) for h in hashes), f"{name}: a hash is not 64 hex digits: {hashes}"
        assert not re.search(r"--hash=(?!sha256:)", entry), f"{name}: a hash other than sha256: {entry}"
    assert "--require-hashes" in SETUP.read_text(), "scripts/setup.sh does not install in hash-checking mode"


def download(lock: Path, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--no-cache-dir",
         "--disable-pip-version-check", "-r", str(lock), "-d", str(dest)],
        capture_output=True, text=True, timeout=300)


def test_pip_refuses_a_file_whose_hash_is_not_the_locked_one(tmp_path: Path):
    entry = lock_entries()[SMALL_PURE_PYTHON]
    requirement, locked = entry.split()[0], HASH.findall(entry)
    wrong = hashlib.sha256(b"not the real " + requirement.encode()).hexdigest()
    assert wrong not in locked

    tampered = tmp_path / "tampered.lock"
    tampered.write_text(f"{requirement} --hash=sha256:{wrong}\n")
    refused = download(tampered, tmp_path / "refused")
    assert refused.returncode != 0, f"pip accepted a wrong hash:\n{refused.stdout}{refused.stderr}"
    assert MISMATCH in refused.stderr, f"pip failed without its hash-mismatch message:\n{refused.stderr}"
    assert wrong in refused.stderr and not any((tmp_path / "refused").glob("*"))

    genuine = tmp_path / "genuine.lock"
    genuine.write_text(entry + "\n")
    fetched = download(genuine, tmp_path / "fetched")
    assert fetched.returncode == 0, f"the locked line did not download:\n{fetched.stdout}{fetched.stderr}"
    files = list((tmp_path / "fetched").glob("*"))
    assert len(files) == 1, files
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() in locked
