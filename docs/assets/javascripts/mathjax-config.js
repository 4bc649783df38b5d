// MathJax 3, served from docs/assets/vendor/mathjax (no CDN). Formulas come from
// pymdownx.arithmatex (generic mode: class "arithmatex") and from notebook Markdown cells.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown",
    menuOptions: { settings: { explorer: false, assistiveMml: false } },
  },
};
