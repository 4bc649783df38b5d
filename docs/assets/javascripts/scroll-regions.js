// A wide table or display formula scrolls sideways inside its own box (Material's table wrapper,
// the formula's div.arithmatex) instead of widening the page. A box that scrolls must be reachable
// by keyboard and named for screen readers: it becomes a focusable region labelled in the page's
// language ("Tabla 2: página, pieza, papel en la cadena"). A box that fits is left as it is, so it
// adds no stop to the tab order. Code blocks that scroll become focusable too. Boxes are checked
// again whenever their size changes.
(function () {
  var KINDS = [
    { selector: ".md-typeset__scrollwrap", name: { es: "Tabla", en: "Table" } },
    { selector: ".md-typeset div.arithmatex", name: { es: "Fórmula", en: "Formula" } },
  ];
  var SCROLLS = { es: "se desplaza en horizontal", en: "scrolls sideways" };
  var MARK = "data-scroll-region";

  function language() {
    return document.documentElement.lang === "es" ? "es" : "en";
  }

  function describe(box, kind, number) {
    var lang = language();
    var label = kind.name[lang] + " " + number;
    var headers = box.querySelectorAll("thead th");
    if (headers.length) {
      label += ": " + Array.prototype.map.call(headers, function (th) { return th.textContent.trim(); }).join(", ");
    }
    return label + " (" + SCROLLS[lang] + ")";
  }

  function update(box, kind, number) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute(MARK)) {
      box.setAttribute(MARK, "");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", describe(box, kind, number));
    } else if (!scrolls && box.hasAttribute(MARK)) {
      ["tabindex", "role", "aria-label", MARK].forEach(function (name) { box.removeAttribute(name); });
    }
  }

  // A code block that scrolls needs only to be focusable: it is already named by its content.
  function watchCode() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset pre > code"), function (code) {
      var check = function () {
        if (code.scrollWidth > code.clientWidth + 1) code.setAttribute("tabindex", "0");
        else if (code.getAttribute("tabindex") === "0") code.removeAttribute("tabindex");
      };
      check();
      if (window.ResizeObserver) new ResizeObserver(check).observe(code);
    });
  }

  function watch() {
    watchCode();
    KINDS.forEach(function (kind) {
      Array.prototype.forEach.call(document.querySelectorAll(kind.selector), function (box, index) {
        var check = function () { update(box, kind, index + 1); };
        check();
        if (window.ResizeObserver) {
          var observer = new ResizeObserver(check);
          observer.observe(box);
          if (box.firstElementChild) observer.observe(box.firstElementChild);
        }
      });
    });
  }

  // Material wraps the tables when it sets up a page (document$); MathJax typesets after that.
  if (window.document$) {
    window.document$.subscribe(function () { requestAnimationFrame(watch); });
  } else {
    document.addEventListener("DOMContentLoaded", watch);
  }
})();
