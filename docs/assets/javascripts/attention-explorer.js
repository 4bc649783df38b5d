// The attention explorer (docs/*/attention-explorer.md): the trained model's attention weights over a few
// sentences, read from docs/assets/attention/<name>-attention.json (written at build time by
// hooks/attention_explorer.py). Each element marked data-attention-explorer names its sentences
// (data-sentences) and carries every label in the page's language (data-label-*): this file holds no
// language strings. The reader picks a sentence, a layer and a head (or the average over heads); hovering
// or focusing a token shows its row of weights, and a heat map shows the whole matrix, the future greyed
// out as the causal mask does.
(function () {
  var SCRIPT = document.currentScript ? document.currentScript.src : "";
  var SVG = "http://www.w3.org/2000/svg";
  var MEAN = "mean";
  var CELL = 22; // heat map units: one cell, the row labels' column, the column labels' band
  var LABELS_WIDTH = 96;
  var LABELS_HEIGHT = 72;
  var made = 0;

  function dataUrl(name) {
    return new URL("../attention/" + name + "-attention.json", SCRIPT || document.baseURI).href;
  }

  function element(tag, attributes, children, namespace) {
    var node = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // How a token is written on a button: its leading space dropped, a token of white space shown as ␣.
  function shown(token) {
    var text = token.trim();
    return text || "\u2423";
  }

  function Explorer(root, sentences) {
    this.root = root;
    this.sentences = sentences;
    this.labels = {};
    for (var name in root.dataset) {
      if (name.indexOf("label") === 0) this.labels[name.slice(5).toLowerCase()] = root.dataset[name];
    }
    var lang = (root.closest("[lang]") || document.documentElement).lang || "en";
    this.format = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    this.id = "attention-explorer-" + (++made);
    this.state = { sentence: 0, layer: 0, head: 0, token: sentences[0].ids.length - 1 };
    this.build();
    this.showSentence();
  }

  Explorer.prototype.select = function (key, labelText, options) {
    var id = this.id + "-" + key;
    var select = element("select", { id: id, "data-control": key });
    options.forEach(function (option) {
      var node = element("option", { value: option.value }, [option.text]);
      if (option.lang) node.setAttribute("lang", option.lang);
      select.appendChild(node);
    });
    var self = this;
    select.addEventListener("change", function () {
      if (key === "sentence") {
        self.state.sentence = select.selectedIndex;
        self.showSentence();
      } else {  // layers and heads are numbered from 1, as readers count them
        self.state[key] = select.value === MEAN ? MEAN : Number(select.value) - 1;
        self.draw();
      }
    });
    return element("div", { class: "attention-explorer__control" }, [element("label", { for: id }, [labelText]), select]);
  };

  Explorer.prototype.build = function () {
    var first = this.sentences[0];
    var layers = first.weights.length;
    var heads = first.weights[0].length;
    var numbers = function (count) {
      var list = [];
      for (var n = 1; n <= count; n++) list.push({ value: String(n), text: String(n) });
      return list;
    };
    var headOptions = numbers(heads).concat([{ value: MEAN, text: this.labels.average }]);
    var sentenceOptions = this.sentences.map(function (s) { return { value: s.name, text: s.text, lang: s.language }; });
    var controls = element("div", { class: "attention-explorer__controls" }, [
      this.select("sentence", this.labels.sentence, sentenceOptions),
      this.select("layer", this.labels.layer, numbers(layers)),
      this.select("head", this.labels.head, headOptions),
    ]);
    this.tokens = element("div", { class: "attention-explorer__tokens", role: "group", "aria-label": this.labels.tokens });
    this.caption = element("p", { class: "attention-explorer__caption", "aria-live": "polite" });
    this.row = element("ol", { class: "attention-explorer__row" });
    this.map = element("svg", { class: "attention-explorer__map", role: "img", "aria-label": this.labels.matrix }, [], SVG);
    this.root.textContent = "";
    [controls, this.tokens, this.caption, this.row, this.map].forEach(this.root.appendChild, this.root);
  };

  // The weights shown: one head's matrix, or the average over the heads of the layer.
  Explorer.prototype.matrix = function () {
    var layer = this.sentences[this.state.sentence].weights[this.state.layer];
    if (this.state.head !== MEAN) return layer[this.state.head];
    return layer[0].map(function (row, i) {
      return row.map(function (_, j) {
        return layer.reduce(function (sum, head) { return sum + head[i][j]; }, 0) / layer.length;
      });
    });
  };

  Explorer.prototype.showSentence = function () {
    var sentence = this.sentences[this.state.sentence];
    var self = this;
    this.state.token = sentence.ids.length - 1;
    this.tokens.textContent = "";
    this.tokens.setAttribute("lang", sentence.language);
    sentence.tokens.forEach(function (token, i) {
      var button = element("button", { type: "button", class: "attention-explorer__token", "data-token": String(i) },
        [shown(token)]);
      button.addEventListener("mouseenter", function () { self.choose(i); });
      button.addEventListener("focus", function () { self.choose(i); });
      button.addEventListener("click", function () { self.choose(i); });
      button.addEventListener("keydown", function (event) { self.move(event, i); });
      self.tokens.appendChild(button);
    });
    this.draw();
  };

  // Arrow keys, Home and End move along the tokens.
  Explorer.prototype.move = function (event, i) {
    var last = this.sentences[this.state.sentence].ids.length - 1;
    var to = { ArrowLeft: i - 1, ArrowUp: i - 1, ArrowRight: i + 1, ArrowDown: i + 1, Home: 0, End: last }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.tokens.children[Math.max(0, Math.min(last, to))].focus();
  };

  Explorer.prototype.choose = function (i) {
    if (this.state.token === i) return;
    this.state.token = i;
    this.draw();
  };

  Explorer.prototype.draw = function () {
    this.drawTokens();
    this.drawRow();
    this.drawMap();
  };

  Explorer.prototype.drawTokens = function () {
    var chosen = this.state.token;
    Array.prototype.forEach.call(this.tokens.children, function (button, i) {
      button.setAttribute("aria-pressed", i === chosen ? "true" : "false");
    });
  };

  Explorer.prototype.drawRow = function () {
    var sentence = this.sentences[this.state.sentence];
    var i = this.state.token;
    var weights = this.matrix()[i];
    var format = this.format;
    this.caption.textContent = this.labels.row.replace("{token}", shown(sentence.tokens[i]));
    this.root.setAttribute("data-shown-token", String(i));
    this.row.textContent = "";
    this.row.setAttribute("lang", sentence.language);
    sentence.tokens.forEach(function (token, j) {
      var future = j > i;
      var bar = element("span", { class: "attention-explorer__bar" }, [
        element("span", { class: "attention-explorer__fill", style: "width: " + (future ? 0 : weights[j] * 100) + "%" }),
      ]);
      var value = element("span", { class: "attention-explorer__value" }, [future ? "\u2014" : format.format(weights[j])]);
      if (future) value.setAttribute("aria-label", this.labels.future);
      var item = element("li", { class: future ? "attention-explorer__item is-future" : "attention-explorer__item",
        "data-weight": future ? "" : String(weights[j]) },
        [element("span", { class: "attention-explorer__name" }, [shown(token)]), bar, value]);
      this.row.appendChild(item);
    }, this);
  };

  Explorer.prototype.drawMap = function () {
    var sentence = this.sentences[this.state.sentence];
    var matrix = this.matrix();
    var count = matrix.length;
    var size = { width: LABELS_WIDTH + count * CELL + 4, height: LABELS_HEIGHT + count * CELL + 4 };  // + the frame
    var map = this.map;
    var self = this;
    map.textContent = "";
    map.setAttribute("viewBox", "0 0 " + size.width + " " + size.height);
    map.setAttribute("lang", sentence.language);
    map.style.maxWidth = size.width * 1.1 + "px";
    sentence.tokens.forEach(function (token, i) {
      var y = LABELS_HEIGHT + i * CELL;
      var x = LABELS_WIDTH + i * CELL;
      map.appendChild(element("text", { x: LABELS_WIDTH - 6, y: y + CELL * 0.7, "text-anchor": "end",
        class: "attention-explorer__label" }, [shown(token)], SVG));
      map.appendChild(element("text", { transform: "translate(" + (x + CELL * 0.7) + "," + (LABELS_HEIGHT - 6) + ") rotate(-60)",
        class: "attention-explorer__label" }, [shown(token)], SVG));
      var row = element("g", { "data-row": String(i) }, [], SVG);
      matrix[i].forEach(function (weight, j) {
        var future = j > i;
        row.appendChild(element("rect", {
          x: LABELS_WIDTH + j * CELL, y: y, width: CELL - 1, height: CELL - 1,
          class: future ? "attention-explorer__cell is-future" : "attention-explorer__cell",
          "fill-opacity": future ? 1 : Math.max(weight, 0.02).toFixed(4),
          "data-weight": future ? "" : String(weight),
        }, [], SVG));
      });
      row.addEventListener("mouseenter", function () { self.choose(i); });
      map.appendChild(row);
    });
    var y = LABELS_HEIGHT + this.state.token * CELL;
    map.appendChild(element("rect", { x: LABELS_WIDTH - 2, y: y - 2, width: count * CELL + 3, height: CELL + 3,
      class: "attention-explorer__outline" }, [], SVG));
  };

  function start(root) {
    if (root.hasAttribute("data-ready")) return;
    root.setAttribute("data-ready", "");
    var names = (root.getAttribute("data-sentences") || "").split(/\s+/).filter(Boolean);
    Promise.all(names.map(function (name) {
      return fetch(dataUrl(name)).then(function (response) {
        if (!response.ok) throw new Error("attention explorer: " + response.status + " for " + response.url);
        return response.json();
      });
    })).then(function (sentences) {
      new Explorer(root, sentences);
      root.setAttribute("data-rendered", "");
    }).catch(function (error) {
      console.error(error);
    });
  }

  function startAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-attention-explorer]"), start);
  }

  if (window.document$) {
    window.document$.subscribe(startAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
