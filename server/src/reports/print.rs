//! The print view: a dashboard as one self-contained HTML page for A4 landscape: the
//! headline tiles, then each widget in the board's order, its chart drawn by ECharts (SVG,
//! no animation) and its numbers as a table. Pure: the page is a function of its data.

use chrono::{DateTime, Utc};

/// A printed dashboard.
pub struct Page {
    pub workspace: String,
    pub title: String,
    /// "Nov 23 – Nov 29, 2026", or the dashboard's range label.
    pub period: String,
    pub zone: String,
    /// Whose numbers: "Everything you see", "Team Platform".
    pub scope: String,
    pub generated: DateTime<Utc>,
    pub tiles: Vec<Tile>,
    pub widgets: Vec<Printed>,
}

/// A headline number.
pub struct Tile {
    pub label: String,
    pub value: String,
    /// Against the period before ("+12.5%"), when there was one.
    pub change: Option<String>,
}

/// One widget on paper.
pub struct Printed {
    pub title: String,
    pub about: String,
    /// Across the page (else half of it).
    pub wide: bool,
    pub chart: Option<Chart>,
    pub table: Option<Table>,
    /// Said instead when there is nothing to show.
    pub empty: Option<String>,
}

pub struct Chart {
    /// The ECharts option, as JSON.
    pub option: String,
    /// What the chart shows, in words (its text alternative).
    pub alt: String,
}

pub struct Table {
    pub head: Vec<String>,
    /// Which columns are numbers (right-aligned).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    /// Said under the table ("The 20 costliest of 134 sessions").
    pub note: Option<String>,
}

/// How many rows a printed table holds at most.
pub const MAX_ROWS: usize = 20;

const STYLE: &str = r#"
@page { size: A4 landscape; margin: 12mm; }
* { box-sizing: border-box; }
/* The printable width of the page: charts measure their box when drawn, before printing. */
body { font: 12px/1.4 system-ui, "DejaVu Sans", sans-serif; color: #1b1f24; margin: 0;
       width: 273mm; }
header { display: flex; justify-content: space-between; align-items: baseline;
         border-bottom: 2px solid #2457d6; padding-bottom: 6px; margin-bottom: 10px; }
h1 { font-size: 20px; margin: 0; }
header p { margin: 0; color: #4a5563; text-align: right; }
.tiles { display: grid; grid-template-columns: repeat(6, 1fr); gap: 6px; margin-bottom: 10px; }
.tile { border: 1px solid #d5dae1; border-radius: 6px; padding: 6px 8px; break-inside: avoid; }
.tile .label { color: #4a5563; font-size: 11px; }
.tile .value { font-size: 17px; font-weight: 650; }
.tile .change { color: #4a5563; font-size: 10px; }
.widgets { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
section { border: 1px solid #d5dae1; border-radius: 6px; padding: 8px; break-inside: avoid; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 14px; margin: 0 0 2px; }
.about { color: #4a5563; margin: 0 0 6px; font-size: 11px; }
.chart { height: 240px; width: 100%; }
section.wide .chart { height: 260px; }
table { border-collapse: collapse; width: 100%; font-size: 11px; margin-top: 6px; }
th, td { padding: 2px 6px; border-bottom: 1px solid #e6e9ee; text-align: left; }
th { color: #4a5563; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.note, .empty { color: #4a5563; font-size: 11px; margin: 4px 0 0; }
footer { margin-top: 10px; color: #4a5563; font-size: 10px; }
"#;

/// Draws every chart once the script is there; the page is printed after.
const SCRIPT: &str = r#"
document.querySelectorAll('[data-option]').forEach(function (el) {
  var option = JSON.parse(el.getAttribute('data-option'));
  option.animation = false;
  // Paper cannot page through a legend: every entry shows.
  [].concat(option.legend || []).forEach(function (l) { l.type = 'plain'; });
  echarts.init(el, null, { renderer: 'svg' }).setOption(option);
});
document.body.setAttribute('data-drawn', 'yes');
"#;

/// The page as HTML; its script is `echarts.min.js` beside it.
pub fn html(page: &Page) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    out.push_str(&esc(&format!("{} — {}", page.title, page.period)));
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><header><div><h1>");
    out.push_str(&esc(&page.title));
    out.push_str("</h1><div>");
    out.push_str(&esc(&format!("{} · {}", page.workspace, page.scope)));
    out.push_str("</div></div><p><strong>");
    out.push_str(&esc(&page.period));
    out.push_str("</strong><br>Days in ");
    out.push_str(&esc(&page.zone));
    out.push_str("</p></header><div class=\"tiles\">");
    for t in &page.tiles {
        out.push_str("<div class=\"tile\"><div class=\"label\">");
        out.push_str(&esc(&t.label));
        out.push_str("</div><div class=\"value\">");
        out.push_str(&esc(&t.value));
        out.push_str("</div><div class=\"change\">");
        out.push_str(&esc(t.change.as_deref().unwrap_or("no earlier period")));
        out.push_str("</div></div>");
    }
    out.push_str("</div><div class=\"widgets\">");
    for w in &page.widgets {
        out.push_str(if w.wide {
            "<section class=\"wide\"><h2>"
        } else {
            "<section><h2>"
        });
        out.push_str(&esc(&w.title));
        out.push_str("</h2><p class=\"about\">");
        out.push_str(&esc(&w.about));
        out.push_str("</p>");
        if let Some(e) = &w.empty {
            out.push_str("<p class=\"empty\">");
            out.push_str(&esc(e));
            out.push_str("</p>");
        }
        if let Some(c) = &w.chart {
            out.push_str("<div class=\"chart\" role=\"img\" aria-label=\"");
            out.push_str(&esc(&c.alt));
            out.push_str("\" data-option=\"");
            out.push_str(&esc(&c.option));
            out.push_str("\"></div>");
        }
        if let Some(t) = &w.table {
            table(&mut out, t);
        }
        out.push_str("</section>");
    }
    out.push_str("</div><footer>Made by devpulse at ");
    out.push_str(&esc(&page
        .generated
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()));
    out.push_str(
        ". Costs are estimates from each request's tokens and the model's price.</footer>",
    );
    out.push_str("<script src=\"echarts.min.js\"></script><script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>");
    out
}

fn table(out: &mut String, t: &Table) {
    let class = |i: usize| {
        if t.numeric.get(i).copied().unwrap_or(false) {
            " class=\"n\""
        } else {
            ""
        }
    };
    out.push_str("<table><thead><tr>");
    for (i, h) in t.head.iter().enumerate() {
        out.push_str(&format!("<th scope=\"col\"{}>{}</th>", class(i), esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            out.push_str(&format!("<td{}>{}</td>", class(i), esc(c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if let Some(n) = &t.note {
        out.push_str("<p class=\"note\">");
        out.push_str(&esc(n));
        out.push_str("</p>");
    }
}

/// Text and attribute values made inert.
pub fn esc(s: &str) -> String {
    crate::mail::templates::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Page {
        Page {
            workspace: "Acme <Labs>".into(),
            title: "Weekly digest".into(),
            period: "Nov 23 – Nov 29, 2026".into(),
            zone: "Europe/Berlin".into(),
            scope: "Team Platform".into(),
            generated: "2026-11-30T06:00:00Z".parse().unwrap(),
            tiles: vec![Tile {
                label: "Cost".into(),
                value: "$1,234".into(),
                change: Some("+12.5%".into()),
            }],
            widgets: vec![Printed {
                title: "Projects".into(),
                about: "Cost per project".into(),
                wide: false,
                chart: Some(Chart {
                    option: r#"{"series":[{"name":"</script><b>"}]}"#.into(),
                    alt: "Cost: a $3".into(),
                }),
                table: Some(Table {
                    head: vec!["Project".into(), "Cost".into()],
                    numeric: vec![false, true],
                    rows: vec![vec!["<img src=x onerror=alert(1)>".into(), "$3.00".into()]],
                    note: None,
                }),
                empty: None,
            }],
        }
    }

    #[test]
    fn the_page_holds_the_numbers_and_nothing_it_was_given_runs() {
        let h = html(&page());
        assert!(h.contains("$1,234") && h.contains("+12.5%"));
        assert!(h.contains("Acme &lt;Labs&gt; · Team Platform"));
        assert!(h.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!h.contains("<img"));
        // The chart's option sits in an attribute, quotes and tags escaped.
        assert!(h.contains(
            "data-option=\"{&quot;series&quot;:[{&quot;name&quot;:&quot;&lt;/script&gt;"
        ));
        assert_eq!(h.matches("<script").count(), 2);
        assert!(h.contains("<td class=\"n\">$3.00</td>"));
        assert!(h.contains("Days in Europe/Berlin"));
    }
}
