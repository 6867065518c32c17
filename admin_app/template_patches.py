"""SQLAdmin's own templates, served with a few literal replacements instead of copies.

Each entry of PATCHES replaces one exact snippet of SQLAdmin 0.32's templates:
English its `ru` catalog does not cover, the display of a form-level CSRF
error (the token field is hidden, so SQLAdmin would show nothing), the rows of a list rendered
in Python (views.list_rows: SQLAdmin's async loop was most of a list page's time), and logout
as a POST form carrying the CSRF token instead of a GET link, with the user's
login beside it as a link to «Профиль». The rest fix what axe-core reports as serious or critical
(tests/test_accessibility.py): the menu's items in a list, a name for the search box's reset button,
the disabled «prev»/«next» links marked disabled (their muted colour is then exempt from contrast
rules), and a logout button with enough contrast on the dark menu.
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import BaseLoader, Environment

HIDDEN_FIELD_ERRORS = '{% for e in f.errors %}<div class="alert alert-danger" role="alert">{{ e }}</div>{% endfor %}'

LOGOUT_LINK = """<a href="{{ request.url_for('admin:logout') }}" class="btn btn-secondary btn-icon m-2 px-2">
        <span class="me-2">{{ _("Logout") }}</span>
        <i class="fa fa-sign-out"></i>
      </a>"""
LOGOUT_FORM = """{% if request.state.user is defined %}
      <a href="{{ request.url_for('admin:view-profile') }}" class="btn btn-ghost-light m-2 px-2" title="Профиль">
        <i class="fa-solid fa-id-card me-2"></i><span>{{ request.state.user.username }}</span>
      </a>
      {% endif %}
      <form method="post" action="{{ request.url_for('admin:logout') }}" class="m-2">
        <input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">
        <button type="submit" class="btn btn-light btn-icon w-100 px-2">
          <span class="me-2">{{ _("Logout") }}</span><i class="fa fa-sign-out"></i>
        </button>
      </form>"""

LIST_HEADER = '<div class="card-header">\n              <h3 class="card-title">{{ model_view.name_plural }}</h3>'

PATCHES = {
    '<html lang="en">': '<html lang="ru">',
    '"This is a required field"': '"Обязательное поле"',
    'aria-label="Toggle navigation"': 'aria-label="Показать меню"',
    "{{ f }}\n{% endfor %}": "{{ f }}" + HIDDEN_FIELD_ERRORS + "\n{% endfor %}",
    LOGOUT_LINK: LOGOUT_FORM,
    # The menu's <li> items sit in a <div>: a list is what screen readers count and announce.
    '{% macro display_menu(menu, request) %}\n<div class="navbar-nav">': (
        '{% macro display_menu(menu, request) %}\n<ul class="navbar-nav">'
    ),
    "{% endif %}\n  {% endfor %}\n</div>\n{% endmacro %}": "{% endif %}\n  {% endfor %}\n</ul>\n{% endmacro %}",
    # An icon-only button (×) needs a name.
    '<button id="search-reset" class="btn" type="button"': (
        '<button id="search-reset" class="btn" type="button" aria-label="Сбросить поиск"'
    ),
    # A disabled page link goes nowhere: no href, marked disabled, out of the tab order (both «prev» and «next»).
    '<a class="page-link" href="#">': '<a class="page-link" role="link" aria-disabled="true">',
    "{{ pk.name | title }}": "{{ '№' if pk.name == 'id' else pk.name }}",
    # A list and its filters side by side from 768 px; on a phone the filters go below the list.
    '<div class="d-flex min-w-0">': '<div class="d-flex flex-column flex-md-row min-w-0">',
    '<div class="flex-grow-1 me-2 min-w-0">': '<div class="flex-grow-1 me-md-2 min-w-0">',
    LIST_HEADER: LIST_HEADER.replace('"card-header"', '"card-header flex-wrap gap-2"'),
    '<div class="card-footer d-flex justify-content-between align-items-center gap-2">': (
        '<div class="card-footer d-flex flex-wrap justify-content-between align-items-center gap-2">'
    ),
    # The rows of a list in Python (views.list_rows); SQLAdmin's own loop is left to run over nothing.
    "<tbody>\n                  {% for row in pagination.rows %}": (
        "<tbody>{{ list_rows_html(model_view, request, pagination.rows) }}\n                  {% for row in [] %}"
    ),
}


class PatchingLoader(BaseLoader):
    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        for original, replacement in PATCHES.items():
            source = source.replace(original, replacement)
        return source, filename, uptodate
