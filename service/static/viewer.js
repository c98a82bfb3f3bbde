/*
 * The document viewer: /view/{document_id}#start-end shows the document's text as plain
 * text, scrolled to and highlighting characters start to end. Offsets are Unicode code
 * points, as in every herein citation; JavaScript strings count UTF-16 units, so they
 * are converted (an emoji before the span must not shift it). Text is set through
 * textContent only, never as HTML.
 */
(function () {
  "use strict";

  var PREFIX = "/view/";
  var path = location.pathname;
  var base = path.slice(0, path.indexOf(PREFIX));
  var encodedId = path.slice(path.indexOf(PREFIX) + PREFIX.length);
  var documentUrl = base + "/v1/documents/" + encodedId;
  var loaded = null;

  /** The UTF-16 index in `text` of the character `codePoints` code points in. */
  function utf16Index(text, codePoints) {
    var index = 0;
    for (var n = 0; n < codePoints && index < text.length; n++) {
      var unit = text.charCodeAt(index);
      index += unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length ? 2 : 1;
    }
    return index;
  }

  function count(text, character, end) {
    var found = 0;
    for (var i = text.indexOf(character); i !== -1 && i < end; i = text.indexOf(character, i + 1)) found++;
    return found;
  }

  /** [start, end] in code points from "#start-end", or null. */
  function span() {
    var match = /^#(\d+)-(\d+)$/.exec(location.hash);
    if (!match) return null;
    var start = Number(match[1]);
    var end = Number(match[2]);
    return end > start ? [start, end] : null;
  }

  function render() {
    var doc = loaded;
    var pre = document.getElementById("text");
    var where = document.getElementById("where");
    var original = document.getElementById("original");
    var text = doc.text;
    var cited = span();
    pre.textContent = "";
    where.textContent = doc.source;
    original.href = documentUrl + "/file";
    original.hidden = false;
    if (!cited) {
      pre.textContent = text;
      return;
    }
    var start = utf16Index(text, cited[0]);
    var end = utf16Index(text, cited[1]);
    var mark = document.createElement("mark");
    mark.id = "cited";
    mark.tabIndex = -1;
    mark.textContent = text.slice(start, end);
    pre.appendChild(document.createTextNode(text.slice(0, start)));
    pre.appendChild(mark);
    pre.appendChild(document.createTextNode(text.slice(end)));
    var lineStart = count(text, "\n", start) + 1;
    var lineEnd = count(text, "\n", Math.max(start, end - 1)) + 1;
    var label = doc.source + ", lines " + lineStart + "-" + lineEnd;
    if (doc.content_type === "application/pdf") {
      // PDF text is its pages' text joined with form feeds.
      var page = count(text, "\f", start) + 1;
      label = doc.source + ", page " + page;
      original.href = documentUrl + "/file#page=" + page;
    }
    where.textContent = label + " (characters " + cited[0] + "-" + cited[1] + ")";
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  }

  function fail(message) {
    var error = document.getElementById("error");
    error.textContent = message;
    error.hidden = false;
    document.getElementById("title").textContent = "Document not shown";
  }

  fetch(documentUrl, { headers: { Accept: "application/json" } })
    .then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.detail || "the service answered " + response.status);
        return body;
      });
    })
    .then(function (doc) {
      loaded = doc;
      document.title = doc.title + " · herein";
      document.getElementById("title").textContent = doc.title;
      render();
      window.addEventListener("hashchange", render);
    })
    .catch(function (error) {
      fail("Could not load this document: " + error.message);
    });
})();
