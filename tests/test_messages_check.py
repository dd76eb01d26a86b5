"""The Spanish catalogue check: it passes on the committed catalogue and names what is wrong.

Broken catalogues are made in a copy of the project under tmp_path; the committed catalogue is
only read, never written.
"""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.core.management import CommandError, call_command

CATALOGUE = Path("locale") / "es" / "LC_MESSAGES" / "django.po"
needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None,
    reason="GNU gettext (xgettext) is not installed; the catalogue check needs it",
)


@pytest.fixture
def project(tmp_path):
    """A copy of the project's sources and catalogue, not a git checkout."""
    copy = tmp_path / "project"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".*", "venv", "node_modules", "__pycache__", "*.sqlite3", "*.mo", "staticfiles"
        ),
    )
    return copy


def edit(path: Path, change) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    change(catalog)
    with path.open("wb") as handle:
        write_po(handle, catalog)


def set_translation(msgid, string):
    def change(catalog):
        catalog[msgid].string = string

    return change


def mark_fuzzy(msgid):
    def change(catalog):
        catalog[msgid].flags.add("fuzzy")

    return change


def check_fails(**options) -> str:
    with pytest.raises(CommandError) as error:
        call_command("messages_check", stdout=StringIO(), **options)
    return str(error.value)


@needs_gettext
def test_the_committed_catalogue_is_complete():
    committed = Path(settings.BASE_DIR) / CATALOGUE
    before = committed.read_bytes()
    with committed.open("rb") as handle:
        entries = sum(1 for message in read_po(handle) if message.id)
    out = StringIO()

    call_command("messages_check", stdout=out)

    assert out.getvalue().strip() == f"Spanish catalogue: {entries} entries, all translated."
    assert entries > 300
    assert committed.read_bytes() == before


@needs_gettext
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda catalog: catalog.delete("Give now"), 'missing: "Give now"'),
        (
            lambda catalog: catalog.delete("Amount", context="receipt"),
            'missing: "Amount" (context "receipt")',
        ),
        (set_translation("Save all rows", ""), 'untranslated: "Save all rows"'),
        (
            set_translation("%(count)d entry saved.", ("%(count)d registro guardado.", "")),
            'untranslated: "%(count)d entry saved."',
        ),
        (mark_fuzzy("Report"), 'fuzzy: "Report"'),
        (
            set_translation("Gift to %(title)s", "Donación a %(titulo)s"),
            'placeholders: "Gift to %(title)s"',
        ),
        (
            set_translation("Signed in as %(name)s.", "Sesión iniciada."),
            'placeholders: "Signed in as %(name)s."',
        ),
    ],
    ids=[
        "removed",
        "removed-with-context",
        "emptied",
        "emptied-plural",
        "fuzzy",
        "renamed-placeholder",
        "dropped-placeholder",
    ],
)
def test_a_broken_entry_fails_the_check_by_name(project, change, expected):
    catalogue = project / CATALOGUE
    edit(catalogue, change)
    edited = catalogue.read_bytes()

    message = check_fails(root=project)

    assert expected in message
    assert "Spanish catalogue: 1 of " in message
    assert catalogue.read_bytes() == edited


@needs_gettext
def test_a_new_source_string_without_spanish_fails_the_check(project):
    (project / "templates" / "new_page.html").write_text(
        '{% load i18n %}<p>{% translate "A sentence nobody translated yet" %}</p>\n'
    )

    message = check_fails(root=project)

    assert 'missing: "A sentence nobody translated yet"' in message
    assert "Spanish catalogue: 1 of " in message


@needs_gettext
def test_the_po_option_checks_another_copy_of_the_catalogue(tmp_path):
    committed = Path(settings.BASE_DIR) / CATALOGUE
    before = committed.read_bytes()
    elsewhere = tmp_path / "django.po"
    shutil.copyfile(committed, elsewhere)
    edit(elsewhere, set_translation("Give now", ""))

    message = check_fails(po=elsewhere)

    assert 'untranslated: "Give now"' in message
    assert committed.read_bytes() == before


def test_without_gnu_gettext_the_check_says_it_is_needed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    message = check_fails()

    assert "needs GNU gettext" in message
    assert "xgettext" in message
