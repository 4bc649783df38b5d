// MathJax 3, served from docs/assets/vendor/mathjax (no CDN). Formulas come from
// pymdownx.arithmatex (generic mode: class "arithmatex"), notebook pages included.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    // Assistive MathML: a hidden MathML copy of each formula that screen readers read aloud. The
    // explorer stays off: it would load more of MathJax from the network.
    menuOptions: { settings: { explorer: false, assistiveMml: true } },
  },
};
