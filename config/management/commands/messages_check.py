"""Fail unless the committed Spanish catalogue covers every string marked for translation.

STYLE.md (Languages): a change that adds a string adds its Spanish. This command re-extracts
the marked strings from a scratch copy of the project with Django's makemessages (which needs
GNU gettext), so the committed catalogue is never written to, then reads the merged result
with Babel and lists every entry that is missing, untranslated, fuzzy or whose placeholders
do not match its source. Running the site needs none of this: pybabel compiles the catalogue.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

LANGUAGE = "es"
CATALOGUE = Path("locale") / LANGUAGE / "LC_MESSAGES" / "django.po"
# What makemessages reads for the django domain; nothing else needs copying.
SOURCE_SUFFIXES = {".py", ".html", ".txt"}
# Used only when the project is not a git checkout (a tarball, a container image); hidden
# directories (.git, .venv) are skipped too, as makemessages itself skips them.
SKIPPED_DIRS = {"venv", "node_modules", "__pycache__", "staticfiles", "media"}
GETTEXT_TOOLS = ("xgettext", "msguniq", "msgmerge", "msgattrib")
GETTEXT_NEEDED = (
    "The Spanish catalogue check needs GNU gettext ({missing} not found on PATH). Install it "
    "(Debian/Ubuntu: apt-get install gettext; macOS: brew install gettext). Running the site "
    "does not need it: `make test` skips this check when xgettext is missing."
)
NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)")


class Command(BaseCommand):
    help = (
        "Re-extract the marked strings into a scratch copy and fail on any Spanish entry that "
        "is missing, untranslated, fuzzy or has placeholders unlike its source."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--root",
            type=Path,
            default=None,
            help="Project tree to extract strings from (default: this project).",
        )
        parser.add_argument(
            "--po",
            type=Path,
            default=None,
            help=f"Committed catalogue to check (default: ROOT/{CATALOGUE}).",
        )

    def handle(self, *args, root: Path | None, po: Path | None, **options) -> None:
        missing_tools = [tool for tool in GETTEXT_TOOLS if shutil.which(tool) is None]
        if missing_tools:
            raise CommandError(GETTEXT_NEEDED.format(missing=", ".join(missing_tools)))
        root = (root or Path(settings.BASE_DIR)).resolve()
        committed_path = (po or root / CATALOGUE).resolve()
        if not committed_path.is_file():
            raise CommandError(f"No catalogue at {committed_path}.")

        committed = _read(committed_path)
        with tempfile.TemporaryDirectory(prefix="messages-check-") as scratch:
            merged = _extract_and_merge(root, committed_path, Path(scratch))

        problems = _problems(committed, merged)
        entries = sum(1 for message in merged if message.id)
        if problems:
            lines = "\n".join(f"  {problem}" for problem in problems)
            raise CommandError(
                f"Spanish catalogue: {len(problems)} of {entries} entries need work.\n{lines}\n"
                f"Run `python manage.py makemessages -l {LANGUAGE} --no-obsolete`, then "
                f"translate each entry above in {_shown(committed_path, root)} and remove any "
                f"fuzzy flag."
            )
        self.stdout.write(f"Spanish catalogue: {entries} entries, all translated.")


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE)


def _source_files(root: Path) -> list[Path]:
    """Files that are, or are about to be, committed: tracked plus untracked-but-not-ignored."""
    git = shutil.which("git")
    listing = None
    if git is not None:
        listing = subprocess.run(  # noqa: S603  (fixed arguments, no user input)
            [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=False,
        )
    if listing is None or listing.returncode != 0:
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [
                name for name in dirnames if name not in SKIPPED_DIRS and not name.startswith(".")
            ]
            files.extend(Path(dirpath, name).relative_to(root) for name in filenames)
    else:
        files = [Path(name) for name in listing.stdout.decode().split("\0") if name]
    return [name for name in files if name.suffix in SOURCE_SUFFIXES and (root / name).is_file()]


def _extract_and_merge(root: Path, committed_path: Path, scratch: Path) -> Catalog:
    for name in _source_files(root):
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, target)
    catalogue = scratch / CATALOGUE
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(committed_path, catalogue)
    # Run without the project's settings: makemessages then uses the copy's own locale/
    # directory, and nothing in the copy is imported.
    environment = dict(os.environ)
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(  # noqa: S603  (this Python, fixed arguments)
        [sys.executable, "-m", "django", "makemessages", "-l", LANGUAGE, "--no-obsolete"],
        cwd=scratch,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CommandError(f"makemessages failed:\n{result.stderr or result.stdout}")
    return _read(catalogue)


def _label(message: Message) -> str:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    context = f' (context "{message.context}")' if message.context else ""
    return f'"{msgid}"{context}'


def _problems(committed: Catalog, merged: Catalog) -> list[str]:
    problems = []
    checker_errors = {
        (message.id if isinstance(message.id, str) else tuple(message.id), message.context): errors
        for message, errors in merged.check()
    }
    for message in merged:
        if not message.id:
            continue
        label = _label(message)
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        if committed.get(message.id, context=message.context) is None:
            problems.append(f"missing: {label}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {label}")
            continue
        if not all(_forms(message, merged.num_plurals)):
            problems.append(f"untranslated: {label}")
            continue
        mismatch = _placeholder_mismatch(message)
        errors = [str(error) for error in checker_errors.get((key, message.context), [])]
        if mismatch:
            errors.append(mismatch)
        if errors:
            problems.append(f"placeholders: {label}: {'; '.join(errors)}")
    return problems


def _forms(message: Message, num_plurals: int) -> list[str]:
    """Every msgstr of the entry; a plural entry must have one per plural form."""
    if message.pluralizable:
        forms = list(message.string) if isinstance(message.string, tuple | list) else []
        return forms + [""] * (num_plurals - len(forms))
    return [message.string or ""]


def _placeholder_mismatch(message: Message) -> str:
    """Named placeholders the translation drops or invents (Babel's checker allows drops)."""
    if message.pluralizable:
        # The singular form may spell out "one", so only the other forms must keep them all.
        expected = set(NAMED_PLACEHOLDER.findall(message.id[1]))
        translations = list(message.string)[1:]
    else:
        expected = set(NAMED_PLACEHOLDER.findall(message.id))
        translations = [message.string]
    for translation in translations:
        found = set(NAMED_PLACEHOLDER.findall(translation))
        if found != expected:
            return (
                f"expects {_names(expected)}, the translation has {_names(found)}"
                f" in {translation!r}"
            )
    return ""


def _names(names: set[str]) -> str:
    return ", ".join(f"%({name})s" for name in sorted(names)) or "none"
