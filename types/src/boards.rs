//! Saved dashboards ("boards"): which widgets a dashboard holds, where each sits on the grid
//! and how each is configured. A board is one person's, or the workspace's (made by
//! `dashboard.manage` holders, shared read-only with teams, the default for roles). Every
//! save names the version it started from; a stale one is refused, so two tabs never
//! overwrite each other's work.
//!
//! The document is checked here, the same way wherever it arrives from: [`Document::parse`]
//! then [`Document::check`] against the widget catalogue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    dashboard::{Filters, Measure, Split},
    layout::{Bounds, Item, Layout, Place, COLUMNS, NARROWER},
    problem::FieldError,
    BoardId, Role, TeamId, UserId,
};

/// The most widgets one board holds.
pub const MAX_WIDGETS: usize = 100;
/// The largest document accepted, in bytes of JSON.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The longest board name and widget title, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// One widget on a board: `widget` names its kind in the catalogue, `key` this copy of it
/// (a board may hold the same kind twice, configured differently).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Placed {
    pub key: String,
    pub widget: String,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    /// Shown instead of the catalogue's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// For time series: how lines are split and what they measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
    /// How it draws its answer, among those its kind offers (`None`: the kind's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartKind>,
    /// The widget's own range and filters over the page's: a range here replaces the
    /// page's, and each filter set here holds whatever the page's says for that field
    /// ([`Filters::over`]).
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
}

/// How a widget draws its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Stacked areas over time.
    Area,
    /// One unstacked line per series over time.
    Line,
    /// Bars (stacked, over time).
    Bar,
    Heatmap,
    /// The numbers as a table.
    Table,
}

impl ChartKind {
    pub const ALL: [ChartKind; 5] = [
        ChartKind::Area,
        ChartKind::Line,
        ChartKind::Bar,
        ChartKind::Heatmap,
        ChartKind::Table,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Area => "area",
            ChartKind::Line => "line",
            ChartKind::Bar => "bar",
            ChartKind::Heatmap => "heatmap",
            ChartKind::Table => "table",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChartKind::Area => "Stacked areas",
            ChartKind::Line => "Lines",
            ChartKind::Bar => "Bars",
            ChartKind::Heatmap => "Heatmap",
            ChartKind::Table => "Table",
        }
    }

    pub fn parse(s: &str) -> Option<ChartKind> {
        ChartKind::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl Placed {
    pub fn place(&self) -> Place {
        Place {
            x: self.x,
            y: self.y,
            w: self.w,
            h: self.h,
        }
    }
}

/// What a board shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub widgets: Vec<Placed>,
    /// Arrangements made by hand for narrower screens (12 columns, 1 column); a width
    /// without one follows the wide layout ([`Layout::for_columns`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narrower: Vec<Narrower>,
}

/// Where the widgets go on a narrower screen: `places` on a grid of `cols` columns. A widget
/// it does not place goes below, as the wide layout orders it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Narrower {
    pub cols: u16,
    pub places: Vec<Spot>,
}

/// One widget's place in a [`Narrower`] arrangement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Spot {
    pub key: String,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Narrower {
    /// The arrangement as it stands.
    pub fn of(layout: &Layout) -> Narrower {
        Narrower {
            cols: layout.cols(),
            places: layout
                .items()
                .iter()
                .map(|i| Spot {
                    key: i.key.clone(),
                    x: i.place.x,
                    y: i.place.y,
                    w: i.place.w,
                    h: i.place.h,
                })
                .collect(),
        }
    }

    /// The arrangement for the widgets of `derived` (the wide layout on this many columns).
    pub fn over(&self, derived: &Layout) -> Layout {
        let items = self
            .places
            .iter()
            .filter_map(|s| {
                derived.get(&s.key).map(|d| Item {
                    key: s.key.clone(),
                    place: Place {
                        x: s.x,
                        y: s.y,
                        w: s.w,
                        h: s.h,
                    },
                    bounds: d.bounds,
                })
            })
            .collect();
        Layout::settled(self.cols, items).following(derived)
    }
}

/// What the catalogue says about a widget kind, for checking a document.
#[derive(Clone, Copy, Debug)]
pub struct WidgetRules {
    pub bounds: Bounds,
    /// Takes a split and a measure (time series).
    pub series: bool,
    /// The ways it can draw, the default first (none: it has one way).
    pub charts: &'static [ChartKind],
    /// Takes a range and filters of its own.
    pub filters: bool,
}

impl Document {
    /// A document from JSON, refused past [`MAX_DOCUMENT_BYTES`] or when it does not parse
    /// (naming where).
    pub fn parse(json: &str) -> Result<Document, FieldError> {
        if json.len() > MAX_DOCUMENT_BYTES {
            return Err(FieldError::new(
                "/document",
                format!(
                    "is {} bytes; at most {MAX_DOCUMENT_BYTES} are accepted",
                    json.len()
                ),
            ));
        }
        serde_json::from_str(json).map_err(|e| {
            FieldError::new(
                "/document",
                format!(
                    "is not a board document (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// Checks the document against the catalogue (`rules` of a widget kind; `None`: no such
    /// kind) and returns its layout. Every problem is named by its JSON pointer.
    pub fn check(
        &self,
        rules: impl Fn(&str) -> Option<WidgetRules>,
    ) -> Result<Layout, Vec<FieldError>> {
        let mut errors = Vec::new();
        let at = |i: usize, field: &str| format!("/document/widgets/{i}/{field}");
        if self.widgets.len() > MAX_WIDGETS {
            errors.push(FieldError::new(
                "/document/widgets",
                format!(
                    "holds {} widgets; at most {MAX_WIDGETS}",
                    self.widgets.len()
                ),
            ));
            return Err(errors);
        }
        let mut items = Vec::with_capacity(self.widgets.len());
        for (i, w) in self.widgets.iter().enumerate() {
            if w.key.is_empty() || w.key.len() > 64 || !w.key.bytes().all(key_byte) {
                errors.push(FieldError::new(
                    at(i, "key"),
                    "must be 1 to 64 letters, digits, '-' or '_'",
                ));
            }
            if w.title
                .as_ref()
                .is_some_and(|t| t.trim().is_empty() || t.chars().count() > MAX_NAME_CHARS)
            {
                errors.push(FieldError::new(
                    at(i, "title"),
                    format!("must be 1 to {MAX_NAME_CHARS} characters"),
                ));
            }
            let Some(r) = rules(&w.widget) else {
                errors.push(FieldError::new(
                    at(i, "widget"),
                    format!("no widget is called {:?}", w.widget),
                ));
                continue;
            };
            if !r.series && (w.split.is_some() || w.measure.is_some()) {
                let field = if w.split.is_some() {
                    "split"
                } else {
                    "measure"
                };
                errors.push(FieldError::new(
                    at(i, field),
                    format!("{} is not a time series and takes no {field}", w.widget),
                ));
            }
            if !r.filters && !w.filters.is_empty() {
                errors.push(FieldError::new(
                    at(i, "filters"),
                    format!("{} shows what happens now and takes no filters", w.widget),
                ));
            }
            if let Some(c) = w.chart.filter(|c| !r.charts.contains(c)) {
                let offered: Vec<&str> = r.charts.iter().map(|c| c.as_str()).collect();
                errors.push(FieldError::new(
                    at(i, "chart"),
                    if offered.is_empty() {
                        format!("{} draws one way and takes no chart", w.widget)
                    } else {
                        format!(
                            "{} cannot draw as {}; it offers {}",
                            w.widget,
                            c.as_str(),
                            offered.join(", ")
                        )
                    },
                ));
            }
            items.push(Item {
                key: w.key.clone(),
                place: w.place(),
                bounds: r.bounds,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let wide = Layout::checked(COLUMNS, items).map_err(|flaw| {
            use crate::layout::Flaw;
            vec![match flaw {
                Flaw::OutOfBounds(i) => {
                    let b = rules(&self.widgets[i].widget).map(|r| r.bounds);
                    FieldError::new(
                        format!("/document/widgets/{i}"),
                        match b {
                            Some(b) => format!(
                                "must lie within the {COLUMNS} columns, {}–{} wide and {}–{} tall",
                                b.min_w, b.max_w, b.min_h, b.max_h
                            ),
                            None => format!("must lie within the {COLUMNS} columns"),
                        },
                    )
                }
                Flaw::Overlap(a, b) => FieldError::new(
                    format!("/document/widgets/{b}"),
                    format!(
                        "overlaps {} (widget {a}); widgets may not cover the same cell",
                        self.widgets[a].key
                    ),
                ),
                Flaw::DuplicateKey(i) => FieldError::new(
                    at(i, "key"),
                    format!("{} is used twice", self.widgets[i].key),
                ),
            }]
        })?;
        self.check_narrower(&wide)?;
        Ok(wide)
    }

    /// Checks the hand-made narrower arrangements against the (valid) wide layout.
    fn check_narrower(&self, wide: &Layout) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (n, a) in self.narrower.iter().enumerate() {
            let at = |field: String| format!("/document/narrower/{n}/{field}");
            if !NARROWER.contains(&a.cols) {
                errors.push(FieldError::new(
                    at("cols".into()),
                    format!(
                        "must be {} (the columns of the medium and narrow screens)",
                        NARROWER.map(|c| c.to_string()).join(" or ")
                    ),
                ));
                continue;
            }
            if self.narrower[..n].iter().any(|o| o.cols == a.cols) {
                errors.push(FieldError::new(
                    at("cols".into()),
                    format!("{} columns are arranged twice", a.cols),
                ));
                continue;
            }
            let derived = wide.for_columns(a.cols);
            let mut items = Vec::with_capacity(a.places.len());
            for (j, s) in a.places.iter().enumerate() {
                match derived.get(&s.key) {
                    Some(d) => items.push(Item {
                        key: s.key.clone(),
                        place: Place {
                            x: s.x,
                            y: s.y,
                            w: s.w,
                            h: s.h,
                        },
                        bounds: d.bounds,
                    }),
                    None => errors.push(FieldError::new(
                        at(format!("places/{j}/key")),
                        format!("names no widget on this board ({:?})", s.key),
                    )),
                }
            }
            if !errors.is_empty() {
                continue;
            }
            if let Err(flaw) = Layout::checked(a.cols, items) {
                use crate::layout::Flaw;
                let cols = a.cols;
                errors.push(match flaw {
                    Flaw::OutOfBounds(j) => FieldError::new(
                        at(format!("places/{j}")),
                        format!("must lie within the {cols} columns and the widget's sizes"),
                    ),
                    Flaw::Overlap(i, j) => FieldError::new(
                        at(format!("places/{j}")),
                        format!(
                            "overlaps {} (place {i}); widgets may not cover the same cell",
                            a.places[i].key
                        ),
                    ),
                    Flaw::DuplicateKey(j) => FieldError::new(
                        at(format!("places/{j}/key")),
                        format!("{} is placed twice", a.places[j].key),
                    ),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The arrangement for a screen of `cols` columns: made by hand, or derived from `wide`.
    pub fn layout_at(&self, wide: &Layout, cols: u16) -> Layout {
        let derived = wide.for_columns(cols);
        match self.narrower.iter().find(|n| n.cols == cols) {
            Some(n) if cols != wide.cols() => n.over(&derived),
            _ => derived,
        }
    }

    /// The document with its widgets where `layout` puts them (after an edit).
    pub fn arranged(mut self, layout: &Layout) -> Document {
        let mut widgets = Vec::with_capacity(self.widgets.len());
        for item in layout.items() {
            if let Some(i) = self.widgets.iter().position(|w| w.key == item.key) {
                let mut w = self.widgets.swap_remove(i);
                let p = item.place;
                (w.x, w.y, w.w, w.h) = (p.x, p.y, p.w, p.h);
                widgets.push(w);
            }
        }
        Document {
            widgets,
            narrower: self.narrower,
        }
    }
}

fn key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A board name, trimmed; 1 to [`MAX_NAME_CHARS`] characters.
pub fn check_name(name: &str) -> Result<&str, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "/name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

/// Who a workspace board is for: the roles whose default it is and the teams it is shared
/// with (read-only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BoardAudience))]
#[serde(deny_unknown_fields)]
pub struct Audience {
    #[serde(default)]
    pub default_for: Vec<Role>,
    #[serde(default)]
    pub shared_with: Vec<TeamId>,
}

/// A board as its readers get it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Board {
    pub id: BoardId,
    pub name: String,
    /// `None`: a workspace board.
    pub owner: Option<UserId>,
    /// Counts saves; a save names the version it started from.
    pub version: i32,
    pub document: Document,
    #[serde(flatten)]
    pub audience: Audience,
    /// Whether the reader may change it.
    pub editable: bool,
    pub updated_at: DateTime<Utc>,
}

/// A board in a list: everything but the document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoardSummary {
    pub id: BoardId,
    pub name: String,
    pub owner: Option<UserId>,
    pub version: i32,
    #[serde(flatten)]
    pub audience: Audience,
    pub editable: bool,
    /// The reader's home (their own choice, else their role's default).
    pub home: bool,
    pub widgets: usize,
    pub updated_at: DateTime<Utc>,
}

/// The boards a reader may open, and which one is home (`None`: the built-in dashboard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Boards {
    pub boards: Vec<BoardSummary>,
    pub home: Option<BoardId>,
}

/// What the dashboard page opens: the boards the reader may open and the one it shows
/// (`None`: the built-in dashboard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Opened {
    pub boards: Boards,
    pub board: Option<Board>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(kind: &str) -> Option<WidgetRules> {
        let b = Bounds {
            min_w: 4,
            max_w: 24,
            min_h: 4,
            max_h: 30,
        };
        match kind {
            "cost_over_time" => Some(WidgetRules {
                bounds: b,
                series: true,
                charts: &[ChartKind::Area, ChartKind::Line],
                filters: true,
            }),
            "heatmap" => Some(WidgetRules {
                bounds: b,
                series: false,
                charts: &[],
                filters: false,
            }),
            _ => None,
        }
    }

    fn doc(json: &str) -> Document {
        Document::parse(json).unwrap()
    }

    #[test]
    fn a_good_document_gives_its_layout() {
        let d = doc(r#"{"widgets":[
                {"key":"a","widget":"cost_over_time","x":0,"y":0,"w":16,"h":10,"split":"team","chart":"line"},
                {"key":"b","widget":"heatmap","x":16,"y":0,"w":8,"h":10,"title":"When"},
                {"key":"c","widget":"cost_over_time","x":0,"y":10,"w":8,"h":10,
                 "filters":{"range":"7d","project":"api"}}]}"#);
        let l = d.check(rules).unwrap();
        assert_eq!(l.items().len(), 3);
        let back: Document = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn every_refusal_names_its_field() {
        let pointer = |json: &str| doc(json).check(rules).unwrap_err()[0].pointer.clone();
        assert_eq!(
            pointer(r#"{"widgets":[{"key":"a","widget":"nope","x":0,"y":0,"w":8,"h":8}]}"#),
            "/document/widgets/0/widget"
        );
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":8,"h":8},
                               {"key":"b","widget":"heatmap","x":4,"y":4,"w":8,"h":8}]}"#
            ),
            "/document/widgets/1"
        );
        assert_eq!(
            pointer(r#"{"widgets":[{"key":"a","widget":"heatmap","x":20,"y":0,"w":8,"h":8}]}"#),
            "/document/widgets/0"
        );
        assert_eq!(
            pointer(r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":2,"h":8}]}"#),
            "/document/widgets/0"
        );
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":8,"h":8,"split":"model"}]}"#
            ),
            "/document/widgets/0/split"
        );
        assert_eq!(
            pointer(r#"{"widgets":[{"key":"a b","widget":"heatmap","x":0,"y":0,"w":8,"h":8}]}"#),
            "/document/widgets/0/key"
        );
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":8,"h":8},
                               {"key":"a","widget":"heatmap","x":8,"y":0,"w":8,"h":8}]}"#
            ),
            "/document/widgets/1/key"
        );
        let many = format!(
            r#"{{"widgets":[{}]}}"#,
            (0..101)
                .map(|i| format!(
                    r#"{{"key":"k{i}","widget":"heatmap","x":0,"y":{},"w":4,"h":4}}"#,
                    i * 4
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(pointer(&many), "/document/widgets");
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"cost_over_time","x":0,"y":0,"w":8,"h":8,"chart":"heatmap"}]}"#
            ),
            "/document/widgets/0/chart"
        );
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":8,"h":8,"chart":"line"}]}"#
            ),
            "/document/widgets/0/chart"
        );
        assert_eq!(
            pointer(
                r#"{"widgets":[{"key":"a","widget":"heatmap","x":0,"y":0,"w":8,"h":8,"filters":{"range":"7d"}}]}"#
            ),
            "/document/widgets/0/filters"
        );
    }

    #[test]
    fn narrower_arrangements_are_kept_and_checked() {
        let two = r#"{"key":"a","widget":"heatmap","x":0,"y":0,"w":12,"h":8},
                     {"key":"b","widget":"heatmap","x":12,"y":0,"w":12,"h":8}"#;
        let with = |narrower: &str| format!(r#"{{"widgets":[{two}],"narrower":[{narrower}]}}"#);
        // On one column b first, a taller; 12 columns follow the wide layout.
        let d = doc(&with(
            r#"{"cols":1,"places":[{"key":"b","x":0,"y":0,"w":1,"h":12}]}"#,
        ));
        let wide = d.check(rules).unwrap();
        let narrow = d.layout_at(&wide, 1);
        let keys: Vec<_> = narrow
            .items()
            .iter()
            .map(|i| (i.key.as_str(), i.place.y, i.place.h))
            .collect();
        assert_eq!(
            keys,
            [("b", 0, 12), ("a", 12, 8)],
            "a, not placed, goes below"
        );
        assert_eq!(d.layout_at(&wide, 12), wide.for_columns(12));
        let back: Document = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);

        let pointer = |json: String| doc(&json).check(rules).unwrap_err()[0].pointer.clone();
        assert_eq!(
            pointer(with(r#"{"cols":6,"places":[]}"#)),
            "/document/narrower/0/cols"
        );
        assert_eq!(
            pointer(with(r#"{"cols":1,"places":[]},{"cols":1,"places":[]}"#)),
            "/document/narrower/1/cols"
        );
        assert_eq!(
            pointer(with(
                r#"{"cols":12,"places":[{"key":"zz","x":0,"y":0,"w":6,"h":8}]}"#
            )),
            "/document/narrower/0/places/0/key"
        );
        assert_eq!(
            pointer(with(
                r#"{"cols":12,"places":[{"key":"a","x":0,"y":0,"w":8,"h":8},{"key":"b","x":4,"y":2,"w":8,"h":8}]}"#
            )),
            "/document/narrower/0/places/1"
        );
        assert_eq!(
            pointer(with(
                r#"{"cols":1,"places":[{"key":"a","x":0,"y":0,"w":2,"h":8}]}"#
            )),
            "/document/narrower/0/places/0"
        );
        assert_eq!(
            pointer(with(
                r#"{"cols":1,"places":[{"key":"a","x":0,"y":0,"w":1,"h":8},{"key":"a","x":0,"y":8,"w":1,"h":8}]}"#
            )),
            "/document/narrower/0/places/1/key"
        );
    }

    #[test]
    fn what_does_not_parse_is_refused_whole() {
        let e = Document::parse(r#"{"widgets":[{"key":"a"}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/document");
        assert!(e.detail.contains("missing field"), "{}", e.detail);
        let e = Document::parse(r#"{"widgets":[],"extra":1}"#).unwrap_err();
        assert!(e.detail.contains("unknown field"), "{}", e.detail);
        let big = format!(
            r#"{{"widgets":[],"x":"{}"}}"#,
            "y".repeat(MAX_DOCUMENT_BYTES)
        );
        assert!(Document::parse(&big)
            .unwrap_err()
            .detail
            .contains("at most"));
    }

    #[test]
    fn an_arranged_document_follows_its_layout() {
        let d = doc(r#"{"widgets":[
                {"key":"a","widget":"heatmap","x":0,"y":0,"w":24,"h":4},
                {"key":"b","widget":"heatmap","x":0,"y":4,"w":24,"h":4,"title":"B"}]}"#);
        let mut l = d.check(rules).unwrap();
        l.move_to("a", 0, 5);
        let d = d.arranged(&l);
        assert_eq!(d.widgets[0].key, "b");
        assert_eq!((d.widgets[0].y, d.widgets[1].y), (0, 4));
        assert_eq!(d.widgets[0].title.as_deref(), Some("B"));
    }
}
