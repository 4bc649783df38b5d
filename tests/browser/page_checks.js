// Injected into every page the browser tests open (before the page's own scripts). It defines
// window.__siteChecks, the measurements tests/browser/site_crawl.py takes, and opens the shadow roots
// Material draws Mermaid diagrams into (attachShadow forced to mode "open"), so the SVG can be
// inspected; neither changes what a reader sees.
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) { return attach.call(this, { ...init, mode: "open" }); };

  const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const textOf = (root, ids) => ids.split(/\s+/).filter(Boolean)
    .map((id) => (root.querySelector("#" + CSS.escape(id)) || {}).textContent || "").join(" ").trim();
  const nameOf = (el) => el.id ? "#" + el.id
    : el.tagName.toLowerCase() + (typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const focusable = (el) => el.tabIndex >= 0
    || !!el.querySelector("[tabindex]:not([tabindex='-1']), a[href], button, input");

  window.__siteChecks = {
    // Waits until MathJax has typeset, every Mermaid diagram has its SVG and the attention explorer is drawn,
    // or time runs out.
    async settle(expectedDiagrams, timeoutMs) {
      if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
      const deadline = Date.now() + timeoutMs;
      const drawn = () => [...document.querySelectorAll(".mermaid")]
        .filter((e) => e.shadowRoot && e.shadowRoot.querySelector("svg")).length;
      while (drawn() < expectedDiagrams && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      // The attention explorer draws itself once its data have arrived (attention-explorer.js).
      const waiting = () => document.querySelector("[data-attention-explorer]:not([data-rendered])");
      while (waiting() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await frames();
    },

    // Everything the tests check on a settled page.
    measure() {
      const article = document.querySelector("article") || document.body;
      const viewport = document.documentElement.clientWidth;

      const diagrams = [...document.querySelectorAll(".mermaid")].map((host) => {
        const svg = (host.shadowRoot || host).querySelector("svg");
        if (!svg) return { svg: false, name: "", description: "" };
        const name = svg.getAttribute("aria-label") || textOf(svg, svg.getAttribute("aria-labelledby") || "");
        return { svg: true, name: name.trim(), description: textOf(svg, svg.getAttribute("aria-describedby") || "") };
      });

      // Text a reader sees outside code, typeset formulas and diagrams: raw TeX must not be in it.
      const texts = [];
      const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) => node.parentElement.closest("pre, code, mjx-container, script, style, .mermaid")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
      });
      while (walker.nextNode()) {
        const el = walker.currentNode.parentElement;
        if (el.getClientRects().length && getComputedStyle(el).visibility !== "hidden") {
          texts.push(walker.currentNode.textContent);
        }
      }

      const boxes = [
        ...[...article.querySelectorAll("div.arithmatex")].map((el) => ["formula", el]),
        ...[...article.querySelectorAll("table")]
          .map((el) => ["table", el.closest(".md-typeset__scrollwrap") || el.parentElement]),
      ].map(([kind, el]) => {
        const rect = el.getBoundingClientRect();
        return {
          kind, box: nameOf(el), label: el.getAttribute("aria-label") || "",
          scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
          scrolls: ["auto", "scroll"].includes(getComputedStyle(el).overflowX), focusable: focusable(el),
          left: rect.left, right: rect.right, viewport,
        };
      });

      const images = [...article.querySelectorAll("img")].map((img) => {
        const rect = img.getBoundingClientRect();
        return {
          src: img.currentSrc.slice(0, 60), alt: img.getAttribute("alt"),
          width: Number(img.getAttribute("width")) || img.naturalWidth, shown: rect.width,
          left: rect.left, right: rect.right, viewport, notebook: !!img.closest("figure.notebook-figure"),
        };
      });

      // Each typeset formula carries its MathML for screen readers (MathJax's assistive MathML).
      const formulas = article.querySelectorAll("mjx-container").length;
      const spoken = article.querySelectorAll("mjx-container mjx-assistive-mml").length;

      return {
        title: document.title, lang: document.documentElement.lang, formulas, spoken,
        scheme: document.body.getAttribute("data-md-color-scheme"),
        scrollWidth: document.documentElement.scrollWidth, viewport, diagrams, texts, boxes, images,
      };
    },

    // What the palette toggle does to the page, without storing the choice (the tabs share storage).
    async darkPalette() {
      document.body.setAttribute("data-md-color-scheme", "slate");
      await frames();
      return document.body.getAttribute("data-md-color-scheme");
    },

    // Runs the given axe rules; colour contrast only on the page's content, which the project's CSS
    // styles (Material's header, navigation and footer are its own).
    async axe(rules) {
      const options = (values) => ({ runOnly: { type: "rule", values }, resultTypes: ["violations"] });
      const whole = rules.filter((rule) => rule !== "color-contrast");
      const violations = whole.length ? (await axe.run(document, options(whole))).violations : [];
      if (rules.includes("color-contrast")) {
        violations.push(...(await axe.run({ include: [".md-content"] }, options(["color-contrast"]))).violations);
      }
      return violations.map((v) => ({
        id: v.id, help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ") + ": " + ((n.failureSummary || "").split("\n")[1] || "").trim()),
      }));
    },
  };
})();
