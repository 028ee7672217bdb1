// The catalog index (losses/index.md): filter its table by family, task, property and words.
// The controls sit in <div class="lc-filter">; the table is the first one after them. A select
// keeps the rows whose cell in the column of that name lists the chosen value (comma-separated).
(function () {
  function setUp(box) {
    let table = null;
    for (let el = box.nextElementSibling; el && !table; el = el.nextElementSibling) {
      table = el.matches("table") ? el : el.querySelector("table");
    }
    if (!table) return;
    const headers = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    const rows = Array.from(table.querySelectorAll("tbody tr"));
    const selects = Array.from(box.querySelectorAll("select[data-filter]"));
    const text = box.querySelector('input[data-filter="text"]');
    const count = box.querySelector('[data-filter="count"]');

    function values(row, column) {
      const cell = row.cells[headers.indexOf(column)];
      return cell ? cell.textContent.split(",").map((v) => v.trim()) : [];
    }

    function apply() {
      const words = (text ? text.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const row of rows) {
        const content = row.textContent.toLowerCase();
        const ok =
          selects.every((s) => !s.value || values(row, s.dataset.filter).includes(s.value)) &&
          words.every((w) => content.includes(w));
        row.hidden = !ok;
        if (ok) shown += 1;
      }
      if (count) count.textContent = shown + " of " + rows.length + " losses";
    }

    selects.forEach((s) => s.addEventListener("change", apply));
    if (text) text.addEventListener("input", apply);
    apply();
  }

  function init() {
    document.querySelectorAll(".lc-filter").forEach(setUp);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(init); // Material's page-load stream (instant navigation too)
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
})();
