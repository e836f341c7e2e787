"""No text a person reads is left unmarked for translation.

`.ci/messages` proves every marked string has its entry in each catalogue; this proves the other
half: that the templates and the Python code hold no visible English outside `{% translate %}`,
`{% blocktranslate %}` or a gettext call. Templates are read with Django's own lexer, the HTML
between tags with the standard library's parser (text nodes and the attributes a person reads or
hears); Python files with `ast` (labels, help texts, choices, messages, validation errors).

What stays English on purpose is listed here with its reason: the API (its errors are part of a
documented interface), command-line output, the demo's content, and product names.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CODE = ROOT / "leads"

# Templates not ours to translate: the API docs page is Swagger UI's, in English like the API.
SKIPPED_TEMPLATES = {"ninja/swagger.html"}
# Python that speaks to programs or operators, not to people in the UI: the API (English by
# design, docs/api.md), management commands, migrations, the demo's content, and the module that
# marks the profile declaration's texts for extraction.
SKIPPED_CODE = ("api/", "management/", "migrations/", "demo/", "i18n_strings.py")

# Text that reads the same in every language.
UNTRANSLATED = {"Relocate", "CSV", "API", "JSON", "UTC", "URL", "SMTP", "HMAC-SHA256", "OpenAPI",
                "GitHub", "Swagger", "ID", "IMAP", "HTTPS", "CSP"}

VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "aria-description",
                      "aria-roledescription", "aria-valuetext", "label", "data-confirm",
                      "data-placeholder", "data-empty", "data-label"}
BUTTON_TYPES = {"submit", "button", "reset"}
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
PLACEHOLDER = "\u00a7"  # stands for a template variable or tag in the reassembled text

GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext",
                 "pgettext_lazy", "npgettext", "npgettext_lazy", "gettext_noop", "format_lazy"}
TEXT_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label",
                 "description", "empty_value_display", "placeholder", "title", "message"}
MESSAGE_FUNCTIONS = {"success", "info", "warning", "error", "debug", "add_message"}
ERROR_CLASSES = {"ValidationError", "StageMoveError", "PreviewOutdated", "DataExportTooLarge",
                 "PermissionDenied", "RowError"}
CHOICE_BASES = {"TextChoices", "IntegerChoices", "Choices"}


def _is_text(value: str) -> bool:
    """Words a person reads: letters, not only placeholders, codes or product names."""
    words = value.replace(PLACEHOLDER, " ").split()
    words = [w.strip(".,:;()[]!?«»\"'") for w in words]
    words = [w for w in words if LETTER.search(w) and w not in UNTRANSLATED]
    return bool(words)


# ---------------------------------------------------------------- templates


def _reassembled(source: str) -> str:
    """The template's text with every tag and variable replaced by PLACEHOLDER, and the content
    of translate blocks and comments removed."""
    out: list[str] = []
    skipping = None  # the end tag of a region whose content is already marked or never shown
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if skipping:
                if name == skipping:
                    skipping = None
                    out.append(PLACEHOLDER)
                continue
            if name in ("blocktranslate", "blocktrans"):
                skipping = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
                continue
            if name == "comment":
                skipping = "endcomment"
                continue
            if name == "verbatim":
                skipping = "endverbatim"
                continue
            if name == "block" and token.contents.split()[-1].endswith(("class", "attrs")):
                # A block that fills attributes in the parent template ({% block main_class %}).
                skipping = "endblock"
                continue
            out.append(PLACEHOLDER)
        elif token.token_type == TokenType.TEXT:
            if not skipping:
                out.append(token.contents)
        elif token.token_type == TokenType.VAR and not skipping:
            out.append(PLACEHOLDER)
    return "".join(out)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if not value:
                continue
            read = name in VISIBLE_ATTRIBUTES or (
                # A <button>'s value is sent, never shown; an <input type="submit">'s is its label.
                name == "value" and tag == "input"
                and (attributes.get("type") or "").lower() in BUTTON_TYPES
            ) or (name == "content" and tag == "meta" and attributes.get("name") == "description")
            if read and _is_text(value):
                self.found.append(f'<{tag} {name}="{value.strip()}">')

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and _is_text(data):
            self.found.append(" ".join(data.split()))


def unmarked_in_template(path: Path) -> list[str]:
    text = _reassembled(path.read_text(encoding="utf-8"))
    if path.suffix == ".html":
        parser = _VisibleText()
        parser.feed(text)
        parser.close()
        return parser.found
    # Plain-text emails: every line of words is read.
    return [" ".join(line.split()) for line in text.splitlines() if _is_text(line)]


def _template_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt")
                  and p.relative_to(TEMPLATES).as_posix() not in SKIPPED_TEMPLATES)


# ---------------------------------------------------------------- Python


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _bare_text(node: ast.AST) -> str | None:
    """The English of a bare string or f-string literal, or None when the node is anything else
    (a gettext call, a variable, a literal without words)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _is_text(node.value) else None
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
        return parts if _is_text(parts) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _bare_text(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _bare_text(node.func.value)
    return None


class _UnmarkedCode(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self._choices = 0

    def _flag(self, node: ast.AST, where: str) -> None:
        text = _bare_text(node)
        if text is not None:
            self.found.append((node.lineno, f"{where}: {text!r}"))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        is_choices = any(_name(base) in CHOICE_BASES for base in node.bases)
        self._choices += is_choices
        self.generic_visit(node)
        self._choices -= is_choices

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._choices and isinstance(node.value, ast.Tuple) and node.value.elts:
            self._flag(node.value.elts[-1], "choice label")
        for target in node.targets:
            if _name(target) in ("short_description", "verbose_name", "verbose_name_plural",
                                 "empty_value_display"):
                self._flag(node.value, _name(target))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        called = _name(node.func)
        if called in GETTEXT_CALLS:
            return  # marked; its arguments are the msgid
        for keyword in node.keywords:
            if keyword.arg in TEXT_KEYWORDS:
                self._flag(keyword.value, f"{called}({keyword.arg}=)")
            if keyword.arg == "choices" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                for item in keyword.value.elts:
                    if isinstance(item, ast.Tuple) and len(item.elts) == 2:
                        self._flag(item.elts[1], f"{called}(choices=)")
            if keyword.arg == "error_messages" and isinstance(keyword.value, ast.Dict):
                for value in keyword.value.values:
                    self._flag(value, f"{called}(error_messages=)")
            if keyword.arg == "attrs" and isinstance(keyword.value, ast.Dict):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=False):
                    if isinstance(key, ast.Constant) and key.value in VISIBLE_ATTRIBUTES:
                        self._flag(value, f"attrs[{key.value!r}]")
        if called in MESSAGE_FUNCTIONS and _name(getattr(node.func, "value", None)) == "messages":
            for argument in node.args[1:]:
                self._flag(argument, f"messages.{called}")
        if called in ERROR_CLASSES and node.args:
            self._flag(node.args[0], called)
        if called == "add_error" and len(node.args) == 2:
            self._flag(node.args[1], "add_error")
        self.generic_visit(node)


def unmarked_in_code(path: Path) -> list[str]:
    visitor = _UnmarkedCode()
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return [f"line {line}: {what}" for line, what in visitor.found]


def _code_files() -> list[Path]:
    return sorted(p for p in CODE.rglob("*.py")
                  if not p.relative_to(CODE).as_posix().startswith(SKIPPED_CODE))


# ---------------------------------------------------------------- JavaScript

JS = ROOT / "static" / "js"
_JS_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
# A sentence in quotes: a capital letter, then at least one space. Codes, selectors and header
# names ("Content-Type", "select[name=to_stage]") have no space.
_JS_SENTENCE = re.compile(r"""(?<![\w.])(gettext\(\s*)?(["'])([A-Z][^"'\n]*\s[^"'\n]*)\2""")


def unmarked_in_script(path: Path) -> list[str]:
    """Sentences in a script not passed to the catalogue's ``gettext(...)``."""
    code = _JS_COMMENT.sub("", path.read_text(encoding="utf-8"))
    return [match.group(3) for match in _JS_SENTENCE.finditer(code) if not match.group(1)]


# ---------------------------------------------------------------- the checks


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_template_text_is_marked(path):
    assert unmarked_in_template(path) == []


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: p.relative_to(CODE).as_posix())
def test_code_text_is_marked(path):
    assert unmarked_in_code(path) == []


@pytest.mark.parametrize("path", sorted(JS.glob("*.js")), ids=lambda p: p.name)
def test_script_text_is_marked(path):
    assert unmarked_in_script(path) == []


def test_the_check_finds_what_is_left_unmarked(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "{% load i18n %}<h1>{% translate 'Leads' %}</h1><p>Saved {{ when }}</p>"
        '<input type="submit" value="Send"><a href="{% url "x" %}" title="Open the lead">'
        "{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}</a>"
        "<script>const label = 'ignored';</script>{% comment %}Notes{% endcomment %}"
        '<span aria-label="{% translate "Close" %}">×</span><b>Relocate</b>',
        encoding="utf-8")
    assert unmarked_in_template(page) == ["Saved §", '<input value="Send">', '<a title="Open the lead">']

    code = tmp_path / "code.py"
    code.write_text(
        "from django.utils.translation import gettext_lazy as _\n"
        "class Stage(models.TextChoices):\n"
        "    NEW = 'new', _('New')\n"
        "    LOST = 'lost', 'Lost'\n"
        "name = forms.CharField(label='Name', help_text=_('Yours'))\n"
        "messages.success(request, f'Saved {n} leads')\n"
        "raise ValidationError(_('Bad'))\n"
        "raise ValidationError('Too long')\n"
        "code = forms.CharField(widget=forms.TextInput(attrs={'placeholder': 'e.g. Lisbon', 'class': 'x'}))\n",
        encoding="utf-8")
    script = tmp_path / "page.js"
    script.write_text('// "Not this"\nshow(gettext("Saved for you"));\nshow("Left as it was");\n'
                      'var type = "Content-Type";\n', encoding="utf-8")
    assert unmarked_in_script(script) == ["Left as it was"]

    assert unmarked_in_code(code) == [
        "line 4: choice label: 'Lost'", "line 5: CharField(label=): 'Name'",
        "line 6: messages.success: 'Saved § leads'", "line 8: ValidationError: 'Too long'",
        "line 9: attrs['placeholder']: 'e.g. Lisbon'"]
