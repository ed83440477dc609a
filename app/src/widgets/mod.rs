//! Every widget a dashboard can hold, as data: what it is called, the query shape it reads,
//! how it is drawn and the room it takes in a 24-column grid. The dashboard page renders from
//! this list, `GET /api/v1/dashboard/charts?widget=…` answers by it, and the layout editor
//! will place and persist these ids.

use types::boards::{ChartKind, Document, Placed, WidgetRules};
use types::dashboard::{Audience, Dimension, Measure, Query, Split};
use types::layout::{Bounds, Item, Layout, Place, COLUMNS};

/// How a widget shows its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Stacked areas over time, with a switch of split.
    TimeSeries,
    /// Bars plus a table.
    Bars,
    /// A sortable table.
    Table,
    Heatmap,
    /// The sessions table, paged.
    Sessions,
    /// Who is active and the latest events.
    Feed,
    /// A person's insights, as a list.
    Insights,
    /// Each budget's spend against its limit, with the projection.
    Budgets,
}

#[derive(Clone, Copy, Debug)]
pub struct WidgetSpec {
    pub id: &'static str,
    pub title: &'static str,
    /// One sentence on what it shows (its tooltip and its accessible description).
    pub about: &'static str,
    pub query: Query,
    pub kind: Kind,
    /// Default width (of 24 columns) and height (in 30 px rows).
    pub w: u8,
    pub h: u8,
}

/// Specs are unique by id (the registry test says so).
impl PartialEq for WidgetSpec {
    fn eq(&self, other: &WidgetSpec) -> bool {
        self.id == other.id
    }
}

impl WidgetSpec {
    /// Whether `audience` may see this widget at all.
    pub fn visible_to(&self, audience: Audience) -> bool {
        audience.names_people() || !self.query.names_people()
    }

    /// Whether the dashboard shows it: insights are about one person, so they appear for a
    /// developer, or when a filter names a person.
    pub fn shown(&self, audience: Audience, one_person: bool) -> bool {
        self.visible_to(audience)
            && (self.kind != Kind::Insights || audience == Audience::Own || one_person)
    }

    /// The box's height in pixels, reserved before anything loads.
    pub fn height_px(&self) -> u32 {
        u32::from(self.h) * 30
    }
}

pub const REGISTRY: &[WidgetSpec] = &[
    WidgetSpec {
        id: "insights",
        title: "Insights",
        about: "Rules over one person's numbers: trends against the previous period and the \
                team median, top tools, failure hot spots, the most expensive session, cache \
                savings",
        query: Query::Insights,
        kind: Kind::Insights,
        w: 24,
        h: 8,
    },
    WidgetSpec {
        id: "cost_over_time",
        title: "Cost and tokens over time",
        about: "Spend (or tokens, sessions, lines) per bucket, stacked by model, person, team, \
                project or token kind",
        query: Query::Series {
            split: Split::Model,
            measure: Measure::Cost,
        },
        kind: Kind::TimeSeries,
        w: 16,
        h: 10,
    },
    WidgetSpec {
        id: "model_mix",
        title: "Model mix",
        about: "Requests, tokens and cost per model",
        query: Query::Breakdown {
            by: Dimension::Model,
        },
        kind: Kind::Bars,
        w: 8,
        h: 10,
    },
    WidgetSpec {
        id: "tools",
        title: "Tool usage",
        about: "Executions, failure rate and p50/p95 durations per tool",
        query: Query::Breakdown {
            by: Dimension::Tool,
        },
        kind: Kind::Bars,
        w: 12,
        h: 12,
    },
    WidgetSpec {
        id: "productivity",
        title: "Productivity trend",
        about: "Lines changed per bucket, per person",
        query: Query::Series {
            split: Split::Person,
            measure: Measure::Lines,
        },
        kind: Kind::TimeSeries,
        w: 12,
        h: 12,
    },
    WidgetSpec {
        id: "people",
        title: "People",
        about: "Per person: sessions, cost, cost per session, lines per active hour, success \
                and accept rates, with the median marked",
        query: Query::Breakdown {
            by: Dimension::Person,
        },
        kind: Kind::Table,
        w: 24,
        h: 12,
    },
    WidgetSpec {
        id: "teams",
        title: "Team comparison",
        about: "Per team: sessions, cost, cost per session, lines per active hour, success and \
                accept rates, with the median marked",
        query: Query::Breakdown {
            by: Dimension::Team,
        },
        kind: Kind::Table,
        w: 24,
        h: 10,
    },
    WidgetSpec {
        id: "projects",
        title: "Projects",
        about: "Cost, sessions and people per project (the session's working directory)",
        query: Query::Breakdown {
            by: Dimension::Project,
        },
        kind: Kind::Table,
        w: 12,
        h: 10,
    },
    WidgetSpec {
        id: "heatmap",
        title: "Activity heatmap",
        about: "Tool executions and prompts by weekday and hour, in the workspace's time zone",
        query: Query::Heatmap,
        kind: Kind::Heatmap,
        w: 12,
        h: 10,
    },
    WidgetSpec {
        id: "live",
        title: "Live activity",
        about: "Who is active now, idle or offline, and the latest events as they arrive",
        query: Query::Activity,
        kind: Kind::Feed,
        w: 12,
        h: 12,
    },
    WidgetSpec {
        id: "sessions",
        title: "Sessions",
        about: "Every session in the range: person, project, branch, model, start, duration, \
                tools, cost, score and end reason",
        query: Query::Sessions,
        kind: Kind::Sessions,
        w: 24,
        h: 16,
    },
    WidgetSpec {
        id: "budgets",
        title: "Budgets",
        about: "Each budget the reader sees: this month's or week's spend against its limit, \
                the projection for the period's end and the day the pace crosses the limit",
        query: Query::Budgets,
        kind: Kind::Budgets,
        w: 12,
        h: 8,
    },
];

pub fn find(id: &str) -> Option<&'static WidgetSpec> {
    REGISTRY.iter().find(|w| w.id == id)
}

/// The one widget of `among` that `asked` names: by its title or id (any case), else the
/// only one whose title contains it.
pub fn by_name(among: &[&'static WidgetSpec], asked: &str) -> Option<&'static WidgetSpec> {
    let asked = asked.trim();
    if asked.is_empty() {
        return None;
    }
    if let Some(w) = among
        .iter()
        .find(|w| w.title.eq_ignore_ascii_case(asked) || w.id.eq_ignore_ascii_case(asked))
    {
        return Some(w);
    }
    let lower = asked.to_lowercase();
    let mut matches = among
        .iter()
        .filter(|w| w.title.to_lowercase().contains(&lower));
    match (matches.next(), matches.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

impl WidgetSpec {
    /// The sizes it may take on a board: tables need room for their columns, charts for
    /// their axes; nothing is taller than two screens.
    pub fn bounds(&self) -> Bounds {
        let (min_w, min_h) = match self.kind {
            Kind::Table | Kind::Sessions => (8, 8),
            Kind::TimeSeries | Kind::Bars | Kind::Heatmap => (6, 8),
            Kind::Feed | Kind::Insights | Kind::Budgets => (6, 6),
        };
        Bounds {
            min_w,
            max_w: COLUMNS,
            min_h,
            max_h: 40,
        }
    }

    /// Whether it takes a split and a measure.
    pub fn is_series(&self) -> bool {
        matches!(self.query, Query::Series { .. })
    }

    /// The ways it can draw, its default first; empty when it has one way.
    pub fn charts(&self) -> &'static [ChartKind] {
        use ChartKind::*;
        match self.kind {
            Kind::TimeSeries => &[Area, Line, Bar, Table],
            Kind::Bars => &[Bar, Table],
            Kind::Heatmap => &[Heatmap, Table],
            Kind::Table | Kind::Sessions | Kind::Feed | Kind::Insights | Kind::Budgets => &[],
        }
    }

    /// Whether its reads take the page's filters (the live feed shows what happens now, to
    /// everyone the reader sees).
    pub fn takes_filters(&self) -> bool {
        // Budgets read their own period, whatever the page's range.
        !matches!(self.kind, Kind::Feed | Kind::Budgets)
    }

    /// This kind on a board as `key`, at `place`, with the catalogue's settings.
    pub fn placed(&self, key: &str, place: Place) -> Placed {
        Placed {
            key: key.to_string(),
            widget: self.id.to_string(),
            x: place.x,
            y: place.y,
            w: place.w,
            h: place.h,
            title: None,
            split: None,
            measure: None,
            chart: None,
            filters: Default::default(),
        }
    }
}

/// What a board document may say about widget kind `id` (`None`: there is no such kind).
pub fn rules(id: &str) -> Option<WidgetRules> {
    find(id).map(|w| WidgetRules {
        bounds: w.bounds(),
        series: w.is_series(),
        charts: w.charts(),
        filters: w.takes_filters(),
    })
}

/// The built-in dashboard as a board document: every widget at its default size, in the
/// registry's order, packed by the layout engine.
pub fn default_document() -> Document {
    let mut layout = Layout::settled(COLUMNS, Vec::new());
    for w in REGISTRY {
        layout.insert(Item {
            key: w.id.to_string(),
            place: Place {
                x: 0,
                y: layout.height(),
                w: u16::from(w.w),
                h: u16::from(w.h),
            },
            bounds: w.bounds(),
        });
    }
    let widgets = layout
        .items()
        .iter()
        .filter_map(|it| find(&it.key).map(|w| w.placed(&it.key, it.place)))
        .collect();
    Document {
        widgets,
        narrower: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sizes_fit_the_grid() {
        for (i, w) in REGISTRY.iter().enumerate() {
            assert!(REGISTRY[..i].iter().all(|o| o.id != w.id), "{} twice", w.id);
            assert!((1..=24).contains(&w.w) && w.h >= 4, "{}", w.id);
            assert_eq!(find(w.id).map(|f| f.id), Some(w.id));
        }
    }

    #[test]
    fn the_default_board_checks_and_holds_every_widget_once() {
        let d = default_document();
        assert_eq!(d.widgets.len(), REGISTRY.len());
        let layout = d.check(rules).expect("the built-in board is valid");
        assert_eq!(layout.items().len(), REGISTRY.len());
        for w in REGISTRY {
            let b = w.bounds();
            assert!(
                b.min_w <= u16::from(w.w) && b.min_h <= u16::from(w.h),
                "{}",
                w.id
            );
        }
    }

    #[test]
    fn a_widget_is_found_by_its_name_or_a_part_only_it_has() {
        let all: Vec<&'static WidgetSpec> = REGISTRY.iter().collect();
        let first = all[0];
        assert_eq!(
            by_name(&all, &first.title.to_uppercase()).map(|w| w.id),
            Some(first.id)
        );
        assert_eq!(by_name(&all, first.id).map(|w| w.id), Some(first.id));
        assert_eq!(by_name(&all, "heat").map(|w| w.id), Some("heatmap"));
        assert!(by_name(&all, "").is_none());
        assert!(by_name(&all, "no such widget").is_none());
        // A part several titles share names none of them.
        let shared = all.iter().find_map(|w| {
            let word = w.title.split(' ').next()?.to_lowercase();
            (all.iter()
                .filter(|o| o.title.to_lowercase().contains(&word))
                .count()
                > 1)
            .then_some(word)
        });
        if let Some(word) = shared {
            assert!(by_name(&all, &word).is_none(), "{word}");
        }
    }

    #[test]
    fn a_totals_only_reader_gets_no_widget_that_names_people() {
        let shown: Vec<_> = REGISTRY
            .iter()
            .filter(|w| w.visible_to(Audience::Aggregate))
            .map(|w| w.id)
            .collect();
        for named in ["people", "productivity", "sessions"] {
            assert!(!shown.contains(&named), "{named} shown to a viewer");
        }
        assert!(shown.contains(&"cost_over_time") && shown.contains(&"teams"));
        assert_eq!(
            REGISTRY
                .iter()
                .filter(|w| w.visible_to(Audience::Everyone))
                .count(),
            REGISTRY.len()
        );
    }
}
