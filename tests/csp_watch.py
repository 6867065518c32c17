"""Content-Security-Policy violations in headless Chromium: a collector for the browser tests.

Chromium reports every blocked script, style, image or font as a `securitypolicyviolation` event and a
"Refused to …" console message; `watch_violations` collects both from the page it is given on, and
`prove_the_watcher_works` shows it live with an image from another site (PROBE), whose reports a test
leaves out of its verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => window.reportCspViolation(
  `${event.violatedDirective} blocked ${event.blockedURI || 'inline'} at ${event.sourceFile}:${event.lineNumber}`));
"""


def watch_violations(page: Page) -> list[str]:
    """What Chromium refuses on this page and every page it opens next."""
    found: list[str] = []

    def report(text: str) -> None:
        found.append(text)

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.expose_function("reportCspViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", console)
    return found


PROBE = "https://example.org/tracker.png"


def prove_the_watcher_works(page: Page, violations: list[str]) -> None:
    """A foreign image must be reported; Chromium reports it twice (the event, the console), the second
    perhaps later, so the probe's reports are left out of the verdict rather than cleared here."""
    page.evaluate(f"document.body.append(Object.assign(new Image(), {{src: '{PROBE}'}}))")
    for _ in range(50):
        if violations:
            break
        page.wait_for_timeout(100)
    assert any("img-src" in text for text in violations), f"a foreign image went unreported: {violations}"
