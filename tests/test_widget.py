"""The chat widget and the API docs pages in real headless Chromium, against a real
`herein serve` with the real model.

Host pages are served from another origin (localhost vs 127.0.0.1, another port) and
embed the one-line script tag. One server, one browser for the whole module.
"""

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.conftest import DATA, ROOT, running_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WALLONIA = "wallonia-industrial-policy.txt"
LANTERN = "lantern-festival.txt"
MARSHALL = "When did Wallonia adopt the Marshall Plan?"
LANTERN_QUESTION = "When is the Lantern Festival of Brugmont held?"
HOSTILE_CSS = """
* { font: 40px serif !important; color: red !important; line-height: 3 !important;
    letter-spacing: 6px !important; text-transform: uppercase !important;
    margin: 13px !important; padding: 9px !important; box-sizing: content-box !important;
    background: yellow !important; border: 3px dashed green !important;
    visibility: visible !important; opacity: 1 !important; }
html { font-size: 40px !important; }
herein-chat, herein-chat * { display: none !important; all: unset !important; }
button, input, a, section, article, strong, h2, h3, p, div { width: 10px !important;
    height: 10px !important; position: static !important; float: left !important; }
"""


def host_page(api: str, css: str = "", body: str = "") -> str:
    """A page of somebody else's site with the one-line embed on it."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Host</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{css}</style></head><body><h1>A site about Wallonia</h1>{body}"
        f"<script src='{api}/widget.js' data-herein-url='{api}' defer></script></body></html>"
    )


class _Pages(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        page = self.pages.get(self.path)
        body = (page or "not found").encode()
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def host() -> Iterator[tuple[str, dict[str, str]]]:
    """Another origin (localhost, its own port) serving {path: html}."""
    pages: ClassVar[dict[str, str]] = {}
    handler = type("Pages", (_Pages,), {"pages": pages})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The follow-up corpus (with the Wallonia text) plus a document full of markup."""
    folder = tmp_path_factory.mktemp("widget-corpus")
    for source in [*(DATA / "followups").iterdir(), DATA / "widget" / LANTERN]:
        shutil.copy(source, folder / source.name)
    return folder


@pytest.fixture(scope="module")
def api(
    corpus: Path, host: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real `herein serve` that lets the host origin call it."""
    index = tmp_path_factory.mktemp("widget-index")
    with running_server(corpus, index, env={"HEREIN_CORS_ORIGINS": host[0]}) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; missing, the tests fail (run `make test` to install it)."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def open_host(page: Page, host: tuple[str, dict[str, str]], path: str, html: str) -> None:
    """Serve html at path on the host origin and open it."""
    host[1][path] = html
    page.goto(host[0] + path)
    expect(page.locator("herein-chat .launcher")).to_be_visible()


def ask(page: Page, question: str) -> None:
    """Type and submit a question in the open panel; wait for its answer."""
    answers = page.locator("herein-chat .answer, herein-chat .error")
    before = answers.count()
    page.locator("herein-chat input").fill(question)
    page.locator("herein-chat .send").click()
    expect(answers).to_have_count(before + 1)


def document_text(corpus: Path, source: str) -> str:
    return (corpus / source).read_bytes().decode("utf-8")


def lines(text: str, start: int, end: int) -> str:
    first = text.count("\n", 0, start) + 1
    last = text.count("\n", 0, end - 1) + 1
    return f"line {first}" if first == last else f"lines {first}-{last}"


def test_host_page_on_another_origin_shows_cited_passage_and_opens_viewer(
    page: Page, api: str, host: tuple[str, dict[str, str]], corpus: Path
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    page.locator("herein-chat .launcher").click()
    ask(page, MARSHALL)

    card = page.locator("herein-chat .card").first
    text = document_text(corpus, WALLONIA)
    passage = card.locator(".passage").text_content() or ""
    start = text.index(passage)
    assert "In 2005, the Walloon Government adopted its Priority Action Plan" in passage
    assert card.locator("h3").text_content() == "Wallonia industrial policy"
    link = card.locator(".citation")
    where = lines(text, start, start + len(passage))
    assert link.text_content() == f"Source: {WALLONIA}, {where}"
    assert link.get_attribute("href") == f"{api}/view/{WALLONIA}#{start}-{start + len(passage)}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "widget-desktop.png")

    with page.context.expect_page() as opened:
        link.click()
    viewer = opened.value
    mark = viewer.locator("mark#cited")
    expect(mark).to_have_text(passage)
    expect(mark).to_be_in_viewport()
    assert viewer.locator("#original").get_attribute("href") == (f"/v1/documents/{WALLONIA}/file")
    viewer.close()


def test_answer_shows_the_highlighted_sentence_in_bold(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    page.locator("herein-chat .launcher").click()
    ask(page, MARSHALL)
    highlight = page.locator("herein-chat .card").first.locator("strong.highlight").first
    expect(highlight).to_contain_text("In 2005, the Walloon Government adopted")
    assert highlight.evaluate("node => getComputedStyle(node).fontWeight") == "700"


def test_widget_renders_highlights_and_not_found_as_the_api_contract_says(
    page: Page, api: str, host: tuple[str, dict[str, str]], corpus: Path
) -> None:
    """Real answers, plus the highlights and answer_found fields issue 3 adds, in code points."""
    text = document_text(corpus, LANTERN)
    sentence = "The festival began in 1953, when the canal was reopened after the great flood."
    start = text.index(sentence)  # Python counts code points, as herein's offsets do

    def amend(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        asked = json.loads(route.request.post_data or "{}")["question"]
        for passage in body["passages"]:
            passage["highlights"] = [{"start": start, "end": start + len(sentence)}]
        body["answer_found"] = asked == LANTERN_QUESTION
        route.fulfill(response=response, json=body)

    open_host(page, host, "/plain.html", host_page(api))
    page.route(f"{api}/v1/ask", amend)
    page.locator("herein-chat .launcher").click()
    ask(page, LANTERN_QUESTION)
    answer = page.locator("herein-chat .answer").last
    assert answer.locator(".card h3").first.text_content() == "Lantern festival"
    expect(answer.locator("strong.highlight").first).to_have_text(sentence)
    expect(answer.locator(".status")).to_have_text("From the documents, best first:")

    ask(page, "How do I bake sourdough bread?")
    answer = page.locator("herein-chat .answer").last
    expect(answer.locator(".status")).to_have_text(
        "I could not find this in the documents. The nearest passages:"
    )
    expect(answer.locator(".card")).to_have_count(3)
    expect(page.locator("herein-chat [aria-live]")).to_contain_text("could not find this")


def test_follow_up_is_searched_with_the_conversation(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            sent.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/v1/ask") and request.method == "POST"
            else None
        ),
    )
    firsts = []
    for topic, source in [
        ("What is the Aurora satellite?", "aurora-satellite.txt"),
        ("What is the Kestrel probe?", "kestrel-probe.txt"),
    ]:
        open_host(page, host, "/plain.html", host_page(api))
        page.locator("herein-chat .launcher").click()
        ask(page, topic)
        ask(page, "When was it launched?")
        first = page.locator("herein-chat .answer").last.locator(".card").first
        expect(first.locator(".citation")).to_contain_text(f"Source: {source}")
        firsts.append(first.locator(".passage").text_content() or "")
    assert "launched on 14 March 2019" in firsts[0]
    assert "launched on 2 October 2021" in firsts[1]
    assert [body["history"] for body in sent] == [
        [],
        ["What is the Aurora satellite?"],
        [],
        ["What is the Kestrel probe?"],
    ]


def test_follow_up_highlights_the_sentence_that_answers_it(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    page.locator("herein-chat .launcher").click()
    ask(page, "What is the Kestrel probe?")
    ask(page, "When was it launched?")
    first = page.locator("herein-chat .answer").last.locator(".card").first
    expect(first.locator("strong.highlight").first).to_contain_text(
        "Kestrel was launched on 2 October 2021"
    )


def test_off_corpus_question_says_it_is_not_in_the_documents(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    page.locator("herein-chat .launcher").click()
    ask(page, "How do I bake sourdough bread?")
    answer = page.locator("herein-chat .answer").last
    expect(answer.locator(".status")).to_have_text(
        "I could not find this in the documents. The nearest passages:"
    )
    expect(answer.locator(".card").first).to_be_visible()


def test_document_markup_renders_as_inert_text_in_widget_and_viewer(
    page: Page, api: str, host: tuple[str, dict[str, str]], corpus: Path
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    page.locator("herein-chat .launcher").click()
    ask(page, LANTERN_QUESTION)
    card = page.locator("herein-chat .card").first
    expect(card.locator(".passage")).to_contain_text('<script>window.hereinPwned = "script";')
    expect(card.locator(".passage")).to_contain_text('<img src="x" onerror=')
    assert card.locator("script, img, b").count() == 0
    assert page.evaluate("window.hereinPwned") is None

    # The viewer, at a span after four emoji: code points, not UTF-16 units.
    text = document_text(corpus, LANTERN)
    sentence = "The festival began in 1953, when the canal was reopened after the great flood."
    start = text.index(sentence)
    page.goto(f"{api}/view/{LANTERN}#{start}-{start + len(sentence)}")
    expect(page.locator("mark#cited")).to_have_text(sentence)
    expect(page.locator("#title")).to_have_text("Lantern festival")
    assert page.locator("#text").text_content() == text
    assert page.locator("main script, main img, main b").count() == 0
    assert page.evaluate("window.hereinPwned") is None


STYLE_PROPERTIES = [
    "font-family",
    "font-size",
    "font-weight",
    "line-height",
    "color",
    "letter-spacing",
    "text-transform",
    "margin",
    "padding",
    "border",
    "background-color",
    "box-sizing",
    "display",
    "position",
    "width",
    "height",
]
STYLED = [".launcher", ".panel", "h2", "input", ".send", ".card", ".passage", ".citation"]


def widget_styles(page: Page) -> dict[str, dict[str, str]]:
    return {
        selector: page.locator(f"herein-chat {selector}").first.evaluate(
            "(node, names) => Object.fromEntries("
            "names.map(name => [name, getComputedStyle(node).getPropertyValue(name)]))",
            STYLE_PROPERTIES,
        )
        for selector in STYLED
    }


def test_hostile_host_stylesheet_leaves_widget_styles_unchanged(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    styles = []
    for path, css in [("/plain.html", ""), ("/hostile.html", HOSTILE_CSS)]:
        open_host(page, host, path, host_page(api, css))
        page.locator("herein-chat .launcher").click()
        ask(page, MARSHALL)
        styles.append(widget_styles(page))
    assert styles[1] == styles[0]
    assert styles[0][".passage"]["font-size"] == "14px"
    # The widget touches nothing of the host page.
    assert page.locator("h1").evaluate("node => getComputedStyle(node).fontSize") == "40px"


def test_keyboard_only_with_aria_live_answer(
    page: Page, api: str, host: tuple[str, dict[str, str]]
) -> None:
    open_host(page, host, "/plain.html", host_page(api))
    active = "document.activeElement?.shadowRoot?.activeElement?.className ?? null"
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "launcher"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.id") == "question"
    page.keyboard.type(MARSHALL)
    page.keyboard.press("Enter")
    live = page.locator("herein-chat [aria-live=polite]")
    expect(live).to_contain_text(
        "From the documents, best first: Wallonia industrial policy, line 7"
    )
    expect(live).to_contain_text("In 2005, the Walloon Government adopted")
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(active) == "citation":
            break
    assert page.evaluate(active) == "citation"
    page.keyboard.press("Escape")
    expect(page.locator("herein-chat .panel")).to_be_hidden()
    assert page.evaluate(active) == "launcher"
    assert page.locator("herein-chat .launcher").get_attribute("aria-expanded") == "false"


def test_phone_viewport_panel_fits_the_screen(
    browser: Browser, api: str, host: tuple[str, dict[str, str]]
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone = context.new_page()
    open_host(phone, host, "/plain.html", host_page(api))
    phone.locator("herein-chat .launcher").tap()
    ask(phone, MARSHALL)
    for selector in [".panel", "input", ".send", ".card"]:
        box = phone.locator(f"herein-chat {selector}").first.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844, selector
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=SCREENSHOTS / "widget-phone.png")
    context.close()


def test_api_docs_render_with_nothing_fetched_from_elsewhere(page: Page, api: str) -> None:
    """/docs and /redoc work on a host without internet: their scripts come from herein.

    ReDoc's "powered by" logo still points at its CDN; an image is no part of the page
    working, so only what the page runs on counts.
    """
    outside: list[str] = []

    def refuse_other_hosts(route: Route) -> None:
        if route.request.url.startswith(api):
            route.continue_()
            return
        if route.request.resource_type != "image":
            outside.append(route.request.url)
        route.abort()

    page.route("**/*", refuse_other_hosts)
    page.goto(f"{api}/docs")
    expect(page.locator(".swagger-ui .information-container .title")).to_contain_text("herein")
    expect(page.locator(".opblock-summary-path", has_text="/v1/ask")).to_be_visible()
    page.goto(f"{api}/redoc")
    expect(page.get_by_role("heading", name="herein")).to_be_visible()
    assert outside == []
