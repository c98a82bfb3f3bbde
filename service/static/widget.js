/*
 * herein chat widget: cited answers from your documents on any web page.
 *
 *   <script src="https://HOST/widget.js" data-herein-url="https://HOST" defer></script>
 *   <herein-chat api="https://HOST" mode="launcher|inline"></herein-chat>
 *
 * Attributes (on the element, or data-* on the script tag): api (data-herein-url), mode,
 * title, greeting, accent, passages, placeholder, api-key.
 *
 * Plain JavaScript, no build step. Everything lives in a Shadow DOM whose :host rule is
 * !important, so the host page's CSS neither reaches in nor is touched. Text from
 * documents is always inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  if (!window.customElements || window.customElements.get("herein-chat")) {
    return; // no custom elements, or the script is on the page twice
  }

  var script = document.currentScript;
  var SCRIPT_ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var MAX_HISTORY = 5;
  var MAX_QUESTION_CHARS = 2000;
  var DEFAULTS = {
    title: "Ask the documents",
    greeting: "Ask a question. Every answer is a passage from the documents, with its source.",
    placeholder: "Your question",
    passages: 3,
  };

  var CSS = [
    ":host { all: initial !important; }",
    ":host([mode=inline]) { display: block !important; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".root { all: initial; display: block; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;",
    "  color: #1f2328; letter-spacing: normal; word-spacing: normal; text-transform: none; text-align: left;",
    "  text-indent: 0; font-style: normal; font-weight: 400; white-space: normal; direction: ltr; --accent: #2451b7; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;",
    "  min-height: 48px; padding: 0 18px; border: 0; border-radius: 24px; background: var(--accent); color: #fff;",
    "  font: inherit; font-weight: 600; line-height: 1; cursor: pointer; box-shadow: 0 4px 16px rgba(0,0,0,.25); }",
    ".launcher svg { width: 20px; height: 20px; fill: currentColor; }",
    ".panel { display: flex; flex-direction: column; background: #fff; color: inherit; border: 1px solid #d0d7de; overflow: hidden; }",
    ".root[data-mode=launcher] .panel { position: fixed; right: 20px; bottom: 80px; z-index: 2147483001;",
    "  width: min(420px, calc(100vw - 40px)); height: min(640px, calc(100vh - 100px));",
    "  border-radius: 12px; box-shadow: 0 12px 40px rgba(0,0,0,.3); }",
    ".root[data-mode=inline] .panel { position: relative; width: 100%; height: var(--herein-height, 520px); border-radius: 8px; }",
    ".root[data-mode=inline] .close, .root[data-mode=inline] .launcher { display: none; }",
    "@media (max-width: 520px) {",
    "  .root[data-mode=launcher] .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; border: 0; }",
    "  .root[data-mode=launcher].open .launcher { display: none; }",
    "}",
    "header { display: flex; align-items: center; gap: 8px; padding: 10px 12px 10px 16px; background: var(--accent); color: #fff; }",
    "h2 { flex: 1; margin: 0; font: inherit; font-size: 16px; font-weight: 600; line-height: 1.3; color: inherit; }",
    ".close { width: 36px; height: 36px; border: 0; border-radius: 18px; background: transparent; color: inherit;",
    "  font: inherit; font-size: 22px; line-height: 1; cursor: pointer; }",
    ".close:hover { background: rgba(255,255,255,.18); }",
    ".log { flex: 1; overflow-y: auto; padding: 12px 16px; display: flex; flex-direction: column; gap: 10px; }",
    ".greeting, .status, .error { margin: 0; }",
    ".error { color: #a40e26; }",
    ".asked { align-self: flex-end; max-width: 85%; margin: 4px 0 0; padding: 8px 12px; border-radius: 14px 14px 2px 14px;",
    "  background: var(--accent); color: #fff; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".answer { display: flex; flex-direction: column; gap: 8px; }",
    ".answer.not-found .status { color: #7a4b00; font-weight: 600; }",
    ".card { margin: 0; padding: 10px 12px; border: 1px solid #d0d7de; border-radius: 8px; background: #f6f8fa; }",
    "h3 { margin: 0 0 4px; font: inherit; font-size: 14px; font-weight: 600; line-height: 1.3; color: #1f2328; }",
    ".heading { margin: 0 0 4px; font-size: 12px; color: #57606a; }",
    ".passage { margin: 0 0 6px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; color: #1f2328; }",
    ".highlight { font-weight: 700; color: #000; background: rgba(255, 212, 0, .35); }",
    ".citation { font-size: 13px; color: var(--accent); text-decoration: underline; overflow-wrap: anywhere; }",
    ".confidence { margin-left: 6px; font-size: 12px; color: #57606a; }",
    "form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #d0d7de; background: #fff; }",
    "input { flex: 1; min-width: 0; height: 40px; padding: 0 10px; border: 1px solid #8c959f; border-radius: 6px;",
    "  background: #fff; color: #1f2328; font: inherit; }",
    ".send { height: 40px; padding: 0 16px; border: 0; border-radius: 6px; background: var(--accent); color: #fff;",
    "  font: inherit; font-weight: 600; line-height: 1; cursor: pointer; }",
    ".send:disabled { opacity: .6; cursor: progress; }",
    "button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }",
  ].join("\n");

  /** The UTF-16 index in `text` of the character `codePoints` code points in. */
  function utf16Index(text, codePoints) {
    var index = 0;
    for (var n = 0; n < codePoints && index < text.length; n++) {
      var unit = text.charCodeAt(index);
      index += unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length ? 2 : 1;
    }
    return index;
  }

  /** `tag` with a class and text; text is only ever set through textContent. */
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** "lines 9-11", or "page 3" for a PDF. */
  function where(citation) {
    if (citation.page != null) {
      var last = citation.page_end;
      return last != null && last !== citation.page
        ? "pages " + citation.page + "-" + last
        : "page " + citation.page;
    }
    return citation.line_start === citation.line_end
      ? "line " + citation.line_start
      : "lines " + citation.line_start + "-" + citation.line_end;
  }

  /** Highlight ranges as UTF-16 [start, end) pairs within the passage text, sorted, merged. */
  function passageRanges(passage) {
    var highlights = Array.isArray(passage.highlights) ? passage.highlights : [];
    var base = passage.citation.start;
    var length = Array.from(passage.text).length;
    var ranges = [];
    highlights.forEach(function (h) {
      if (typeof h.start !== "number" || typeof h.end !== "number") return;
      var start = Math.max(0, Math.min(length, h.start - base));
      var end = Math.max(0, Math.min(length, h.end - base));
      if (end > start) ranges.push([utf16Index(passage.text, start), utf16Index(passage.text, end)]);
    });
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var merged = [];
    ranges.forEach(function (range) {
      var last = merged[merged.length - 1];
      if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push(range.slice());
    });
    return merged;
  }

  function viewerLink(api, citation) {
    var id = citation.document_id.split("/").map(encodeURIComponent).join("/");
    return api + "/view/" + id + "#" + citation.start + "-" + citation.end;
  }

  function errorMessage(status, body, api) {
    if (status === 401) return "This widget needs a valid API key for " + api + ".";
    if (status === 503) return "The service is still loading its documents; try again in a moment.";
    var detail = body && body.detail;
    if (Array.isArray(detail)) {
      detail = detail.map(function (d) { return d && d.msg ? d.msg : String(d); }).join("; ");
    }
    return "The service could not answer (" + status + (detail ? ": " + detail : "") + ").";
  }

  var ICON =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

  class HereinChat extends HTMLElement {
    static get observedAttributes() {
      return ["title", "greeting", "accent", "placeholder", "mode"];
    }

    constructor() {
      super();
      this.history = [];
      this.busy = false;
      this.attachShadow({ mode: "open" });
    }

    connectedCallback() {
      if (!this.root) this.build();
    }

    attributeChangedCallback() {
      if (this.root) this.applyAttributes();
    }

    get api() {
      return (this.getAttribute("api") || SCRIPT_ORIGIN).replace(/\/+$/, "");
    }

    get mode() {
      return this.getAttribute("mode") === "inline" ? "inline" : "launcher";
    }

    get passageCount() {
      var count = parseInt(this.getAttribute("passages"), 10);
      return count >= 1 && count <= 50 ? count : DEFAULTS.passages;
    }

    build() {
      var shadow = this.shadowRoot;
      if (shadow.adoptedStyleSheets !== undefined && window.CSSStyleSheet) {
        // A constructed sheet also works on host pages whose CSP forbids inline styles.
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
      } else {
        shadow.appendChild(element("style", "", CSS));
      }
      var root = (this.root = element("div", "root"));
      var launcher = (this.launcher = element("button", "launcher"));
      launcher.type = "button";
      launcher.setAttribute("aria-expanded", "false");
      launcher.setAttribute("aria-controls", "panel");
      launcher.innerHTML = ICON; // a constant, never document text
      this.launcherLabel = launcher.appendChild(element("span", "", ""));

      var panel = (this.panel = element("section", "panel"));
      panel.id = "panel";
      panel.setAttribute("aria-labelledby", "title");
      var header = panel.appendChild(element("header"));
      this.heading = header.appendChild(element("h2", "", ""));
      this.heading.id = "title";
      var close = header.appendChild(element("button", "close", "\u00d7"));
      close.type = "button";
      close.setAttribute("aria-label", "Close");
      this.log = panel.appendChild(element("div", "log"));
      this.greetingNode = this.log.appendChild(element("p", "greeting", ""));
      var form = (this.form = panel.appendChild(element("form")));
      var label = form.appendChild(element("label", "sr-only", "Your question"));
      label.htmlFor = "question";
      var input = (this.input = form.appendChild(element("input")));
      input.id = "question";
      input.type = "text";
      input.autocomplete = "off";
      input.maxLength = MAX_QUESTION_CHARS;
      this.send = form.appendChild(element("button", "send", "Ask"));
      this.send.type = "submit";
      this.live = panel.appendChild(element("div", "sr-only"));
      this.live.setAttribute("aria-live", "polite");
      this.live.setAttribute("role", "status");
      root.appendChild(launcher);
      root.appendChild(panel);
      shadow.appendChild(root);

      var self = this;
      launcher.addEventListener("click", function () { self.open(); });
      close.addEventListener("click", function () { self.close(); });
      panel.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && self.mode === "launcher") {
          event.preventDefault();
          self.close();
        }
      });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        self.ask(input.value);
      });
      this.applyAttributes();
    }

    applyAttributes() {
      var title = this.getAttribute("title") || DEFAULTS.title;
      this.root.dataset.mode = this.mode;
      this.heading.textContent = title;
      this.panel.setAttribute("role", this.mode === "launcher" ? "dialog" : "region");
      this.launcherLabel.textContent = title;
      this.greetingNode.textContent = this.getAttribute("greeting") || DEFAULTS.greeting;
      this.input.placeholder = this.getAttribute("placeholder") || DEFAULTS.placeholder;
      var accent = this.getAttribute("accent");
      if (accent && window.CSS && CSS.supports("color", accent)) {
        this.root.style.setProperty("--accent", accent);
      } else {
        this.root.style.removeProperty("--accent");
      }
      if (this.mode === "inline") {
        this.panel.hidden = false;
      } else if (!this.root.classList.contains("open")) {
        this.panel.hidden = true;
      }
    }

    open() {
      this.root.classList.add("open");
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.input.focus();
    }

    close() {
      this.root.classList.remove("open");
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    async ask(raw) {
      var question = raw.trim();
      if (!question || this.busy) return;
      this.busy = true;
      this.send.disabled = true;
      this.log.setAttribute("aria-busy", "true");
      this.input.value = "";
      var asked = this.log.appendChild(element("p", "asked", question));
      var pending = this.log.appendChild(element("p", "status", "Searching the documents\u2026"));
      this.reveal(asked);
      var headers = { "Content-Type": "application/json" };
      var key = this.getAttribute("api-key");
      if (key) headers.Authorization = "Bearer " + key;
      var body = { question: question, k: this.passageCount, history: this.history.slice(-MAX_HISTORY) };
      var node;
      try {
        var response = await fetch(this.api + "/v1/ask", {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          headers: headers,
          body: JSON.stringify(body),
        });
        var data = await response.json().catch(function () { return null; });
        if (response.ok && data) {
          node = this.renderAnswer(data);
          this.history = this.history.concat([question]).slice(-MAX_HISTORY);
        } else {
          node = this.renderError(errorMessage(response.status, data, this.api));
        }
      } catch (error) {
        node = this.renderError("Could not reach the service at " + this.api + ".");
      }
      pending.replaceWith(node);
      this.busy = false;
      this.send.disabled = false;
      this.log.removeAttribute("aria-busy");
      this.reveal(asked);
    }

    /** Scroll the conversation (not the host page) so that `node` is at its top. */
    reveal(node) {
      this.log.scrollTop = node.offsetTop - this.log.offsetTop - 8;
    }

    renderError(message) {
      this.announce(message);
      var node = element("p", "error", message);
      node.setAttribute("role", "alert");
      return node;
    }

    renderAnswer(data) {
      var passages = Array.isArray(data.passages) ? data.passages : [];
      var found = data.answer_found !== false && passages.length > 0;
      var answer = element("div", "answer" + (found ? "" : " not-found"));
      var status;
      if (!passages.length) status = "I could not find this in the documents.";
      else if (!found) status = "I could not find this in the documents. The nearest passages:";
      else status = passages.length === 1 ? "From the documents:" : "From the documents, best first:";
      answer.appendChild(element("p", "status", status));
      var api = this.api;
      passages.forEach(function (passage) { answer.appendChild(renderCard(passage, api)); });
      var best = passages[0];
      var summary = status;
      if (best) {
        var ranges = passageRanges(best);
        var quote = ranges.length ? best.text.slice(ranges[0][0], ranges[0][1]) : best.text;
        summary += " " + best.citation.title + ", " + where(best.citation) + ": " + quote.trim();
      }
      this.announce(summary);
      return answer;
    }

    announce(message) {
      // Emptied first so that the same words twice are announced twice.
      this.live.textContent = "";
      var live = this.live;
      window.setTimeout(function () { live.textContent = message; }, 50);
    }
  }

  /** Runs of blank lines shown as one: for display only, after offsets are applied. */
  function tidy(text) {
    return text.replace(/(?:[ \t]*\r?\n){3,}/g, "\n\n");
  }

  function renderCard(passage, api) {
    var citation = passage.citation;
    var card = element("article", "card");
    card.appendChild(element("h3", "", citation.title || citation.source));
    if (citation.heading && citation.heading.length) {
      card.appendChild(element("p", "heading", "\u00a7 " + citation.heading.join(" \u203a ")));
    }
    var text = element("p", "passage");
    var at = 0;
    passageRanges(passage).forEach(function (range) {
      text.appendChild(document.createTextNode(tidy(passage.text.slice(at, range[0]))));
      text.appendChild(element("strong", "highlight", tidy(passage.text.slice(range[0], range[1]))));
      at = range[1];
    });
    text.appendChild(document.createTextNode(tidy(passage.text.slice(at))));
    card.appendChild(text);
    var link = element("a", "citation", "Source: " + citation.source + ", " + where(citation));
    link.href = viewerLink(api, citation);
    link.target = "_blank";
    link.rel = "noopener";
    card.appendChild(link);
    if (passage.confidence != null) {
      var confidence = typeof passage.confidence === "number"
        ? Math.round(passage.confidence * 100) + "%"
        : String(passage.confidence);
      card.appendChild(element("span", "confidence", "confidence " + confidence));
    }
    return card;
  }

  window.customElements.define("herein-chat", HereinChat);

  // The one-line embed: a launcher on the page for a script tag with data-herein-url.
  if (script && script.hasAttribute("data-herein-url")) {
    var mount = function () {
      var chat = document.createElement("herein-chat");
      chat.setAttribute("api", script.getAttribute("data-herein-url") || SCRIPT_ORIGIN);
      ["mode", "title", "greeting", "accent", "passages", "placeholder", "api-key"].forEach(function (name) {
        var value = script.getAttribute("data-" + name);
        if (value !== null) chat.setAttribute(name, value);
      });
      document.body.appendChild(chat);
    };
    if (document.body) mount();
    else document.addEventListener("DOMContentLoaded", mount);
  }
})();
