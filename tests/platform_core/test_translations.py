"""The catalogue coverage check: no text of ours reaches a reader untranslated.

(1) statically, every template's text (outside {% translate %} / {% blocktranslate %}) and every visible
attribute must be free of words, brand names aside; (2) the Russian and French catalogues translate every
message (none empty, none fuzzy, plural forms complete); (3) the main pages, rendered for a person whose
language is Russian or French, look up no message without finding its translation, and say so in <html lang>.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.template import engines
from django.template.base import NodeList, TextNode
from django.template.defaulttags import CommentNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real
from django_tenants.utils import tenant_context

from tests.conftest import Workspace
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, LeadFactory, UserFactory

ROOT = Path(settings.BASE_DIR)
TEMPLATE_ROOTS = ("platform_core", "tenants", "crm", "infra", "billing", "integrations")
TRANSLATED = ("ru", "fr")
# Words that are the same in every language: the brand, and the prefix of our API keys.
BRAND = re.compile(r"\bKontor\b|\bkontor_")
LETTER = re.compile(r"[^\W\d_]")
# Stands for a template tag or variable in the text stream; an attribute-name character, so a tag split by
# `{% if %}` (`<tr{% if x %} class="a"{% endif %}>`) still parses as one tag.
SLOT = "\u2063"
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}


# --- (1) every template text is marked ---------------------------------------------------------------------


def _template_files() -> Iterator[tuple[str, Path]]:
    for root in TEMPLATE_ROOTS:
        for path in sorted((ROOT / root).rglob("templates/**/*")):
            if path.is_file() and path.suffix in (".html", ".txt"):
                yield str(path).split("/templates/", 1)[1], path


def _stream(nodelist: NodeList, out: list[str]) -> None:
    """The template's literal text in document order, every tag or variable replaced by SLOT; the text inside
    translate tags (and comments) never appears."""
    for node in nodelist:
        if isinstance(node, TextNode):
            out.append(node.s)
            continue
        out.append(SLOT)
        if isinstance(node, TranslateNode | BlockTranslateNode | CommentNode):
            continue
        for _condition, branch in getattr(node, "conditions_nodelists", ()):
            _stream(branch, out)
        for attr in node.child_nodelists:
            child = getattr(node, attr, None)
            if isinstance(child, NodeList) and not hasattr(node, "conditions_nodelists"):
                _stream(child, out)
        out.append(SLOT)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        named = dict(attrs)
        for name, value in attrs:
            shown = name in VISIBLE_ATTRIBUTES or (
                name == "value" and tag == "input" and named.get("type") in ("submit", "button", "reset")
            )
            if shown and value:
                self.check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.check(data)

    def check(self, text: str) -> None:
        self.found.extend(unmarked_words(text))


def unmarked_words(text: str) -> list[str]:
    return [piece.strip() for piece in text.split(SLOT) if LETTER.search(BRAND.sub("", piece))]


def unmarked_template_texts(name: str) -> list[str]:
    template = engines["django"].engine.get_template(name)
    out: list[str] = []
    _stream(template.nodelist, out)
    text = "".join(out)
    if name.endswith(".txt"):
        return unmarked_words(text)
    parser = _VisibleText()
    parser.feed(text)
    parser.close()
    return parser.found


def test_the_scanner_finds_unmarked_text_and_accepts_marked_text() -> None:
    engine = engines["django"].engine

    def found(source: str) -> list[str]:
        parser = _VisibleText()
        out: list[str] = []
        _stream(engine.from_string(source).nodelist, out)
        parser.feed("".join(out))
        return parser.found

    assert found("{% load i18n %}<p>Save</p>") == ["Save"]
    assert found('{% load i18n %}<a title="Open it">{% translate "x" %}</a>') == ["Open it"]
    assert found("{% load i18n %}{% if a %}<b>Yes</b>{% else %}<i>Non</i>{% endif %}") == ["Yes", "Non"]
    assert found("{% for x in y %}<li>{{ x }} items</li>{% empty %}Nothing{% endfor %}") == ["items", "Nothing"]
    assert found('<input type="submit" value="Go">') == ["Go"]
    assert found("<p>Записать</p>") == ["Записать"]
    marked = (
        '{% load i18n %}<tr{% if a %} class="x"{% endif %}><td title="{% translate "T" %}">{% translate "Save" %}'
        "</td><td>{% blocktranslate %}Hello {{ n }}{% endblocktranslate %} · Kontor 1 — %</td></tr>"
        '<script>var label = "not text";</script><!-- a comment --><button value="up">↑</button>'
    )
    assert found(marked) == []


def test_every_template_text_is_marked_for_translation() -> None:
    names = list(_template_files())
    assert len(names) > 60
    problems = {name: texts for name, _path in names if (texts := unmarked_template_texts(name))}
    assert problems == {}


_RAISED = {"ValidationError", "HttpError", "PermissionDenied", "Http404"}
_MESSAGES = {"debug", "info", "success", "warning", "error"}
_SHOWN_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label", "placeholder"}


def _literal_words(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    else:
        return ""
    return text if re.search(r"[^\W\d_]{2,}", BRAND.sub("", text)) else ""


def unmarked_python_texts(source: str) -> list[str]:
    """Literal texts handed to what a person reads: errors raised, flash messages, form and model labels,
    choice labels. A text wrapped in gettext() is a call, not a literal, and passes."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            args: list[ast.expr] = []
            if name in _RAISED:
                args = node.args[:1]
            elif owner == "messages" and name in _MESSAGES:
                args = node.args[1:2]
            args += [k.value for k in node.keywords if k.arg in _SHOWN_KEYWORDS]
            found += [text for arg in args if (text := _literal_words(arg))]
        if isinstance(node, ast.ClassDef) and any(
            getattr(base, "attr", getattr(base, "id", "")) in ("TextChoices", "IntegerChoices") for base in node.bases
        ):
            for statement in node.body:
                value = getattr(statement, "value", None)
                if isinstance(value, ast.Tuple) and len(value.elts) == 2 and (text := _literal_words(value.elts[1])):
                    found.append(text)
    return found


def test_the_python_scanner_finds_unmarked_texts() -> None:
    source = (
        "raise ValidationError('Enter a name.')\n"
        "raise ValidationError(_('Enter a name.'))\n"
        "messages.success(request, f'Saved {n}')\n"
        "logger.info('not shown %s', x)\n"
        "f = forms.CharField(label='Name', help_text=_('Marked'))\n"
        "class K(models.TextChoices):\n    A = 'a', 'Alpha'\n    B = 'b', _('Beta')\n"
    )
    assert sorted(unmarked_python_texts(source)) == ["Alpha", "Enter a name.", "Name", "Saved "]


def test_every_python_text_shown_to_people_is_marked() -> None:
    problems = {}
    for root in TEMPLATE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" not in path.parts and (texts := unmarked_python_texts(path.read_text())):
                problems[str(path.relative_to(ROOT))] = texts
    assert problems == {}


# --- (2) the catalogues are complete -----------------------------------------------------------------------


def _catalogue(language: str) -> Any:
    with (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_has_the_plural_forms_of_the_language(language: str) -> None:
    catalogue = _catalogue(language)
    # Django's own catalogues give Russian a fourth form (fractions) and French a third (large round numbers).
    assert catalogue.num_plurals in {"ru": (3, 4), "fr": (2, 3)}[language]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_catalogue_is_translated(language: str) -> None:
    catalogue = _catalogue(language)
    untranslated, fuzzy = [], []
    for message in catalogue:
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(message.id)
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        if len(strings) != (catalogue.num_plurals if message.pluralizable else 1) or not all(strings):
            untranslated.append(message.id)
    assert (untranslated, fuzzy) == ([], [])


def test_the_catalogues_hold_every_message_of_the_code(tmp_path: Path) -> None:
    """Extract the messages of the code as `make messages` does, into a copy of the tree: each must already be
    in the catalogues (a text marked for translation but never extracted would reach readers in English)."""
    for name in (*TEMPLATE_ROOTS, "manage.py"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ru", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    with (tmp_path / "locale" / "ru" / "LC_MESSAGES" / "django.po").open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    for language in TRANSLATED:
        known = {message.id for message in _catalogue(language) if message.id}
        assert sorted(map(str, extracted - known)) == [], f"run `make messages` and translate ({language})"


# --- (3) the main pages in Russian and French --------------------------------------------------------------


def _compile_catalogues() -> None:
    """Compile the .mo files when they are missing or older than their .po (the build does it too)."""
    for po in (ROOT / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)
    trans_real._translations = {}


class Lookups:
    """Every message looked up in a language other than English that its catalogue does not translate."""

    def __init__(self) -> None:
        self.missing: dict[str, set[str]] = {}

    def record(self, catalog: trans_real.DjangoTranslation, key: Any, message: str) -> None:
        language = catalog.language()
        if language == "en" or not LETTER.search(BRAND.sub("", message)):
            return
        if catalog._catalog.get(key) is None:  # type: ignore[attr-defined]
            self.missing.setdefault(language, set()).add(message)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Lookups:
    _compile_catalogues()
    seen = Lookups()
    gettext, ngettext = trans_real.DjangoTranslation.gettext, trans_real.DjangoTranslation.ngettext

    def watched_gettext(self: trans_real.DjangoTranslation, message: str) -> str:
        seen.record(self, message, message)
        return gettext(self, message)

    def watched_ngettext(self: trans_real.DjangoTranslation, singular: str, plural: str, number: int) -> str:
        seen.record(self, (singular, 0), singular)
        return ngettext(self, singular, plural, number)

    monkeypatch.setattr(trans_real.DjangoTranslation, "gettext", watched_gettext)
    monkeypatch.setattr(trans_real.DjangoTranslation, "ngettext", watched_ngettext)
    return seen


def _workspace_pages(workspace: Workspace) -> list[str]:
    with tenant_context(workspace.tenant):
        company = CompanyFactory(phones=["+79161234567"])
        contact = ContactFactory(company=company)
        deal = DealFactory(company=company)
        activity = ActivityFactory(company=company, assignee=workspace.owner)
        lead = LeadFactory()
        colleague = UserFactory()
    pages = [reverse(name) for name in ("home", "deals:board", "calendar:week", "search")]
    pages += [reverse(f"{ns}:list") for ns in ("companies", "contacts", "leads", "deals", "activities", "products")]
    pages += [reverse(f"{ns}:create") for ns in ("companies", "contacts", "leads", "deals", "activities", "products")]
    pages += [company.get_absolute_url(), deal.get_absolute_url(), contact.get_absolute_url()]
    pages += [lead.get_absolute_url(), reverse("activities:detail", args=[activity.pk])]
    pages += [reverse("deals:edit", args=[deal.pk]), reverse("leads:convert", args=[lead.pk])]
    pages += [reverse(f"settings:{name}") for name in ("pipelines", "custom_fields")]
    pages += [reverse(f"manage:{name}") for name in ("users", "invite", "roles", "teams", "audit", "workspace")]
    pages += [reverse("manage:user", args=[colleague.pk])]
    pages += [reverse(f"accounts:{name}") for name in ("profile", "password", "two_factor", "api_keys", "security")]
    return pages


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]*)"', html)
    return match.group(1) if match else ""


@pytest.mark.django_db
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_main_pages_are_wholly_translated(workspace: Workspace, lookups: Lookups, language: str) -> None:
    with tenant_context(workspace.tenant):
        workspace.owner.language = language
        workspace.owner.save(update_fields=["language"])
    member = workspace.client(logged_in_as=workspace.owner)
    langs = {}
    for url in _workspace_pages(workspace):
        response = member.get(url)
        assert response.status_code == 200, url
        langs[url] = _lang(response.content.decode())
    visitor = Client(HTTP_HOST=workspace.domain, HTTP_ACCEPT_LANGUAGE=language)
    public = Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT_LANGUAGE=language)
    for client, url in ((visitor, "/login/"), (visitor, "/password-reset/"), (public, "/"), (public, "/signup/")):
        response = client.get(url)
        assert response.status_code == 200, url
        langs[url] = _lang(response.content.decode())
    assert set(langs.values()) == {language}, langs
    assert lookups.missing == {}


@pytest.mark.django_db
def test_russian_plurals_take_the_form_of_the_number(lookups: Lookups) -> None:
    engine = engines["django"].engine
    template = engine.from_string(
        "{% load i18n %}{% blocktranslate count n=n %}{{ n }} deal{% plural %}{{ n }} deals{% endblocktranslate %}"
    )
    from django.template import Context

    with translation.override("ru"):
        forms = [template.render(Context({"n": n})) for n in (1, 2, 5, 21)]
    assert forms[0] != forms[1] != forms[2] and forms[3].split()[1] == forms[0].split()[1]
    assert lookups.missing == {}


def test_the_lookup_watch_sees_a_missing_translation(lookups: Lookups) -> None:
    with translation.override("ru"):
        assert translation.gettext("No such message in any catalogue") == "No such message in any catalogue"
        assert translation.gettext("Password") != "Password"  # Django's own, translated
    assert lookups.missing == {"ru": {"No such message in any catalogue"}}
