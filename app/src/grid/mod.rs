//! The layout editor's state, apart from the browser: the arrangement being edited and each
//! widget's settings, what was last saved, undo and redo, and a widget picked up with the
//! keyboard. Every change the editor makes (a drag, a key, a button, the settings panel)
//! goes through here and the layout engine (`types::layout`), so all of it is unit-tested
//! natively; the page only draws it.
//!
//! A board has one arrangement per screen width (`types::layout::BREAKPOINTS`): the wide
//! one, which the document's widgets carry, and one per narrower width that follows it
//! until someone arranges that width by hand. The editor edits one width at a time.

use types::boards::Placed;
use types::layout::{Bounds, Item, Layout, Place, BREAKPOINTS};

/// Undo keeps at least this many steps.
pub const UNDO_STEPS: usize = 100;

/// An arrow key, or a move/resize button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Left,
    Right,
    Up,
    Down,
}

impl Dir {
    pub fn from_key(key: &str) -> Option<Dir> {
        match key {
            "ArrowLeft" => Some(Dir::Left),
            "ArrowRight" => Some(Dir::Right),
            "ArrowUp" => Some(Dir::Up),
            "ArrowDown" => Some(Dir::Down),
            _ => None,
        }
    }
}

/// What is edited: where each widget is at each width (`layouts`) and how each is set up
/// (`widgets`, whose own x, y, w, h are not read: the wide layout says where they are). One
/// undo step keeps all of it, so undoing a removal brings the widget back with its settings.
#[derive(Clone, Debug, PartialEq)]
struct Draft {
    /// One per breakpoint, widest first; the first is the wide layout.
    layouts: [Layout; 3],
    /// Which narrower layouts were arranged by hand (the others are derived).
    by_hand: [bool; 3],
    widgets: Vec<Placed>,
}

impl Draft {
    /// The narrower layouts brought up to the wide one: derived, or made by hand and
    /// following its widgets (a widget added goes below, one removed leaves).
    fn settle(&mut self) {
        for (i, (_, cols)) in BREAKPOINTS.iter().enumerate().skip(1) {
            let derived = self.layouts[0].for_columns(*cols);
            self.layouts[i] = if self.by_hand[i] {
                self.layouts[i].following(&derived)
            } else {
                derived
            };
        }
    }
}

fn breakpoint(cols: u16) -> Option<usize> {
    BREAKPOINTS.iter().position(|(_, c)| *c == cols)
}

/// A widget picked up with the keyboard: the arrangement before, to restore on Escape.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    key: String,
    before: Draft,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Editor {
    draft: Draft,
    saved: Draft,
    undo: Vec<Draft>,
    redo: Vec<Draft>,
    held: Option<Held>,
    /// The width being edited (an index into the breakpoints).
    at: usize,
}

/// `base`, or `base-2`, `base-3`… : the first not in `taken`.
pub fn fresh_key(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|k| !taken(k))
        .expect("some key is free")
}

/// Changes layout `at` of `d` with `f`; a narrower one changed is arranged by hand.
fn arrange(d: &mut Draft, at: usize, f: impl FnOnce(&mut Layout) -> bool) -> bool {
    let before = d.layouts[at].clone();
    let changed = f(&mut d.layouts[at]) && d.layouts[at] != before;
    if changed {
        d.by_hand[at] = true;
    }
    changed
}

/// Where a widget is, in words (1-based, as people count).
pub fn describe(title: &str, p: Place) -> String {
    format!(
        "{title}: column {}, row {}, {} wide, {} tall",
        p.x + 1,
        p.y + 1,
        p.w,
        p.h
    )
}

impl Editor {
    /// Edits `layout` (the wide one), with `widgets` the settings of the widgets it places
    /// and `by_hand` the narrower arrangements made by hand (for the columns each has).
    pub fn new(layout: Layout, widgets: Vec<Placed>, by_hand: Vec<Layout>) -> Editor {
        let mut draft = Draft {
            layouts: [layout.clone(), layout.clone(), layout],
            by_hand: [true, false, false],
            widgets,
        };
        for l in by_hand {
            if let Some(i) = breakpoint(l.cols()).filter(|&i| i > 0) {
                draft.layouts[i] = l;
                draft.by_hand[i] = true;
            }
        }
        draft.settle();
        Editor {
            saved: draft.clone(),
            draft,
            undo: Vec::new(),
            redo: Vec::new(),
            held: None,
            at: 0,
        }
    }

    /// The arrangement being edited (of the width being edited).
    pub fn layout(&self) -> &Layout {
        &self.draft.layouts[self.at]
    }

    /// The arrangement for a screen of `cols` columns (one of the breakpoints'; else the
    /// wide one).
    pub fn layout_for(&self, cols: u16) -> &Layout {
        &self.draft.layouts[breakpoint(cols).unwrap_or(0)]
    }

    /// The columns of the width being edited.
    pub fn columns(&self) -> u16 {
        BREAKPOINTS[self.at].1
    }

    /// Edits the width of `cols` columns from now on (a widget held is put down).
    pub fn edit_columns(&mut self, cols: u16) -> bool {
        let Some(i) = breakpoint(cols) else {
            return false;
        };
        self.drop_held();
        self.at = i;
        true
    }

    /// Whether the width being edited was arranged by hand (the wide one always is).
    pub fn by_hand(&self) -> bool {
        self.draft.by_hand[self.at]
    }

    /// The narrower arrangements made by hand, to save with the document.
    pub fn narrower_by_hand(&self) -> Vec<&Layout> {
        (1..BREAKPOINTS.len())
            .filter(|&i| self.draft.by_hand[i])
            .map(|i| &self.draft.layouts[i])
            .collect()
    }

    /// The width being edited follows the wide layout again (undoable).
    pub fn follow_wide(&mut self) -> bool {
        let at = self.at;
        at > 0
            && self.edit(|d| {
                d.by_hand[at] = false;
                true
            })
    }

    /// The widgets on the grid, with their settings and where the layout puts them, in the
    /// order they were added (not the layout's reading order: the page keeps one element per
    /// widget, and moving the focused one in the DOM would take the focus away).
    pub fn widgets(&self) -> Vec<Placed> {
        self.draft
            .widgets
            .iter()
            .filter_map(|w| {
                let p = self.draft.layouts[0].get(&w.key)?.place;
                Some(Placed {
                    x: p.x,
                    y: p.y,
                    w: p.w,
                    h: p.h,
                    ..w.clone()
                })
            })
            .collect()
    }

    /// One widget's settings.
    pub fn widget(&self, key: &str) -> Option<&Placed> {
        self.draft.widgets.iter().find(|w| w.key == key)
    }

    /// Whether there are changes since the last save.
    pub fn dirty(&self) -> bool {
        self.draft != self.saved
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// The key of the widget held with the keyboard.
    pub fn held(&self) -> Option<&str> {
        self.held.as_ref().map(|h| h.key.as_str())
    }

    /// One undoable change of the arrangement being edited; false (and nothing recorded)
    /// when it changed nothing. A narrower width changed is arranged by hand from then on.
    pub fn change(&mut self, f: impl FnOnce(&mut Layout) -> bool) -> bool {
        let at = self.at;
        self.edit(|d| arrange(d, at, f))
    }

    fn edit(&mut self, f: impl FnOnce(&mut Draft) -> bool) -> bool {
        let before = self.draft.clone();
        if !f(&mut self.draft) {
            self.draft = before;
            return false;
        }
        self.draft.settle();
        if self.draft == before {
            self.draft = before;
            return false;
        }
        self.remember(before);
        true
    }

    /// Adds `widget` (its key made unique if taken) at the first place its size fits;
    /// returns the key it got.
    pub fn add(&mut self, mut widget: Placed, bounds: Bounds) -> Option<String> {
        widget.key = fresh_key(&widget.key, |k| self.widget(k).is_some());
        let key = widget.key.clone();
        let added = self.edit(|d| {
            let fits = d.layouts[0].insert(Item {
                key: widget.key.clone(),
                place: widget.place(),
                bounds,
            });
            d.widgets.push(widget);
            fits
        });
        added.then_some(key)
    }

    /// A copy of `key` with its settings, right below it; returns the copy's key.
    pub fn duplicate(&mut self, key: &str, bounds: Bounds) -> Option<String> {
        let original = self.widget(key)?.clone();
        let at = self.draft.layouts[0].get(key)?.place;
        let copy = fresh_key(&original.widget, |k| self.widget(k).is_some());
        let added = self.edit(|d| {
            let mut w = original;
            w.key = copy.clone();
            (w.x, w.y, w.w, w.h) = (at.x, at.bottom(), at.w, at.h);
            let fits = d.layouts[0].insert(Item {
                key: copy.clone(),
                place: w.place(),
                bounds,
            });
            d.layouts[0].move_to(&copy, at.x, at.bottom());
            d.widgets.push(w);
            fits
        });
        added.then_some(copy)
    }

    /// Takes `key` off the board (undo brings it back, settings and all).
    pub fn remove(&mut self, key: &str) -> bool {
        self.edit(|d| {
            d.widgets.retain(|w| w.key != key);
            d.layouts[0].remove(key).is_some()
        })
    }

    /// Replaces the settings of `key` (title, split, filters…; not its key or place).
    pub fn configure(&mut self, key: &str, settings: Placed) -> bool {
        self.edit(|d| match d.widgets.iter_mut().find(|w| w.key == key) {
            Some(w) => {
                *w = Placed {
                    key: w.key.clone(),
                    x: w.x,
                    y: w.y,
                    w: w.w,
                    h: w.h,
                    ..settings
                };
                true
            }
            None => false,
        })
    }

    fn remember(&mut self, before: Draft) {
        self.undo.push(before);
        if self.undo.len() > UNDO_STEPS {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Moves or resizes `key` one cell towards `dir` (resizing grows right and down).
    pub fn step(&mut self, key: &str, dir: Dir, resize: bool) -> bool {
        let Some(p) = self.layout().get(key).map(|i| i.place) else {
            return false;
        };
        let (dx, dy): (i32, i32) = match dir {
            Dir::Left => (-1, 0),
            Dir::Right => (1, 0),
            Dir::Up => (0, -1),
            Dir::Down => (0, 1),
        };
        let add = |v: u16, d: i32| (i32::from(v) + d).max(0) as u16;
        let apply = |l: &mut Layout| {
            if resize {
                l.resize(key, add(p.w, dx).max(1), add(p.h, dy).max(1))
            } else if dy > 0 {
                // Down goes below the nearest widget underneath: one row down would only
                // float back up.
                let below = l
                    .items()
                    .iter()
                    .filter(|o| {
                        o.key != key
                            && o.place.y >= p.bottom()
                            && o.place.x < p.x + p.w
                            && p.x < o.place.x + o.place.w
                    })
                    .min_by_key(|o| o.place.y)
                    .map(|o| o.place.bottom());
                l.move_to(key, p.x, below.unwrap_or(p.y + 1))
            } else {
                l.move_to(key, add(p.x, dx).min(l.cols()), add(p.y, dy))
            }
        };
        if self.held.is_some() {
            // While held, steps are one change, recorded when it is dropped.
            let before = self.draft.clone();
            arrange(&mut self.draft, self.at, apply);
            self.draft.settle();
            self.draft != before
        } else {
            self.change(apply)
        }
    }

    /// Picks `key` up (Enter or Space on a focused widget).
    pub fn pick_up(&mut self, key: &str) -> bool {
        if self.layout().get(key).is_none() {
            return false;
        }
        self.held = Some(Held {
            key: key.to_string(),
            before: self.draft.clone(),
        });
        true
    }

    /// Puts the held widget down where it is: one undoable change.
    pub fn drop_held(&mut self) -> bool {
        let Some(h) = self.held.take() else {
            return false;
        };
        if h.before != self.draft {
            self.remember(h.before);
        }
        true
    }

    /// Puts the held widget back where it was picked up.
    pub fn cancel_held(&mut self) -> bool {
        let Some(h) = self.held.take() else {
            return false;
        };
        self.draft = h.before;
        true
    }

    pub fn undo(&mut self) -> bool {
        self.held = None;
        let Some(before) = self.undo.pop() else {
            return false;
        };
        self.redo.push(std::mem::replace(&mut self.draft, before));
        true
    }

    pub fn redo(&mut self) -> bool {
        self.held = None;
        let Some(after) = self.redo.pop() else {
            return false;
        };
        self.undo.push(std::mem::replace(&mut self.draft, after));
        true
    }

    /// Back to what was last saved (history kept, so it can be undone).
    pub fn discard(&mut self) {
        self.held = None;
        if self.dirty() {
            let before = std::mem::replace(&mut self.draft, self.saved.clone());
            self.remember(before);
        }
    }

    /// What is on the grid now was saved.
    pub fn saved(&mut self) {
        self.saved = self.draft.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::layout::Item;

    fn item(key: &str, x: u16, y: u16, w: u16, h: u16) -> Item {
        Item::anywhere(key, x, y, w, h)
    }

    fn widget(key: &str) -> Placed {
        Placed {
            key: key.into(),
            widget: key.into(),
            x: 0,
            y: 0,
            w: 4,
            h: 4,
            title: None,
            split: None,
            measure: None,
            chart: None,
            filters: Default::default(),
        }
    }

    fn editor() -> Editor {
        Editor::new(
            Layout::settled(
                24,
                vec![
                    item("a", 0, 0, 12, 4),
                    item("b", 12, 0, 12, 4),
                    item("c", 0, 4, 24, 4),
                ],
            ),
            ["a", "b", "c"].map(widget).to_vec(),
            Vec::new(),
        )
    }

    fn at(e: &Editor, key: &str) -> (u16, u16, u16, u16) {
        let p = e.layout().get(key).unwrap().place;
        (p.x, p.y, p.w, p.h)
    }

    #[test]
    fn keys_move_and_resize_one_cell_and_down_passes_the_widget_below() {
        let mut e = editor();
        assert!(e.step("a", Dir::Right, false));
        assert_eq!(at(&e, "a"), (1, 0, 12, 4));
        assert!(e.step("a", Dir::Left, true));
        assert_eq!(at(&e, "a"), (1, 0, 11, 4));
        assert_eq!(at(&e, "b"), (12, 0, 12, 4), "b floated back beside a");
        assert!(e.step("a", Dir::Down, false));
        assert_eq!(at(&e, "c"), (0, 4, 24, 4), "b holds c down");
        assert_eq!(at(&e, "a"), (1, 8, 11, 4), "a went below c");
        assert!(e.step("a", Dir::Up, false));
        assert_eq!(at(&e, "a"), (1, 0, 11, 4), "and back above it, floating up");
        assert_eq!(at(&e, "c").1, 4);
        assert!(!e.step("a", Dir::Right, true) || at(&e, "a").2 == 12);
        assert!(e.dirty());
    }

    #[test]
    fn a_held_widget_is_one_undo_step_and_escape_restores_it() {
        let mut e = editor();
        let start = e.layout().clone();
        e.pick_up("b");
        e.step("b", Dir::Left, false);
        e.step("b", Dir::Left, false);
        assert_eq!(e.held(), Some("b"));
        assert!(e.cancel_held());
        assert_eq!(e.layout(), &start);
        assert!(!e.can_undo());

        e.pick_up("b");
        e.step("b", Dir::Left, false);
        e.step("b", Dir::Left, false);
        e.drop_held();
        assert_eq!(at(&e, "b").0, 10);
        assert!(e.undo());
        assert_eq!(e.layout(), &start);
        assert!(e.redo());
        assert_eq!(at(&e, "b").0, 10);
    }

    #[test]
    fn undo_keeps_a_hundred_steps_and_discard_can_be_undone() {
        let mut e = editor();
        for _ in 0..60 {
            e.step("a", Dir::Right, false);
            e.step("a", Dir::Left, false);
        }
        let mut n = 0;
        while e.undo() {
            n += 1;
        }
        assert_eq!(n, UNDO_STEPS);
        let mut e = editor();
        e.step("c", Dir::Up, false);
        e.saved();
        assert!(!e.dirty());
        e.step("a", Dir::Right, true);
        e.discard();
        assert!(!e.dirty());
        assert!(e.undo());
        assert!(e.dirty());
    }

    #[test]
    fn settings_adds_copies_and_removals_are_undoable_with_the_layout() {
        let mut e = editor();
        let mut titled = widget("b");
        titled.title = Some("Spend".into());
        titled.filters.project = Some("api".into());
        assert!(e.configure("b", titled));
        assert_eq!(e.widget("b").unwrap().title.as_deref(), Some("Spend"));
        assert_eq!(at(&e, "b"), (12, 0, 12, 4), "settings do not move it");

        let copy = e.duplicate("b", Bounds::ANY).unwrap();
        assert_eq!(copy, "b-2");
        assert_eq!(at(&e, &copy), (12, 4, 12, 4), "the copy sits right below");
        assert_eq!(
            e.widget(&copy).unwrap().filters.project.as_deref(),
            Some("api")
        );
        assert_eq!(e.widgets().len(), 4);

        let added = e.add(widget("a"), Bounds::ANY).unwrap();
        assert_eq!(added, "a-2", "a kind already on the board gets a new key");

        assert!(e.remove("b"));
        assert!(e.widget("b").is_none() && e.layout().get("b").is_none());
        assert!(e.undo());
        assert_eq!(
            e.widget("b").unwrap().title.as_deref(),
            Some("Spend"),
            "undo brings a removed widget back with its settings"
        );
        e.undo();
        e.undo();
        e.undo();
        assert!(!e.dirty(), "every step undone");
        assert!(e.widget("b").unwrap().title.is_none());
        let keys: Vec<String> = e.widgets().into_iter().map(|w| w.key).collect();
        assert_eq!(
            keys,
            ["a", "b", "c"],
            "in the order they came, whatever the layout's"
        );
        assert!(!e.configure("nope", widget("x")));
    }

    #[test]
    fn a_narrower_width_follows_the_wide_one_until_arranged_by_hand() {
        let mut e = editor();
        assert!(e.edit_columns(1));
        assert_eq!(e.columns(), 1);
        assert!(!e.by_hand() && e.narrower_by_hand().is_empty());
        let order = |e: &Editor| -> Vec<String> {
            e.layout().items().iter().map(|i| i.key.clone()).collect()
        };
        assert_eq!(
            order(&e),
            ["a", "b", "c"],
            "derived: the wide reading order"
        );

        // c to the top of the phone layout: by hand from now on, the wide one untouched.
        e.pick_up("c");
        e.step("c", Dir::Up, false);
        e.step("c", Dir::Up, false);
        e.drop_held();
        assert_eq!(order(&e), ["c", "a", "b"]);
        assert!(e.by_hand());
        assert_eq!(e.layout_for(24).get("c").unwrap().place.y, 4);
        assert_eq!(e.narrower_by_hand().len(), 1);
        assert!(e.step("c", Dir::Down, true), "taller on phones only");
        assert_eq!(e.layout().get("c").unwrap().place.h, 5);
        assert_eq!(e.layout_for(24).get("c").unwrap().place.h, 4);
        assert!(
            !e.step("c", Dir::Right, true),
            "one column is as wide as it gets"
        );

        // Wide edits still reach it: a removal leaves, an addition goes below.
        e.edit_columns(24);
        e.remove("a");
        e.add(widget("d"), Bounds::ANY);
        assert_eq!(order(&Editor { at: 2, ..e.clone() }), ["c", "b", "d"]);
        // The medium width was never touched: it is still derived.
        assert_eq!(e.layout_for(12), &e.layout_for(24).for_columns(12));

        e.edit_columns(1);
        assert!(e.follow_wide());
        assert_eq!(
            order(&e),
            ["d", "b", "c"],
            "following the wide layout again (d filled a's gap)"
        );
        assert!(e.undo());
        assert_eq!(
            order(&e),
            ["c", "b", "d"],
            "and undo arranges it by hand again"
        );
        assert!(!e.edit_columns(6), "only the breakpoints' widths");
    }

    #[test]
    fn a_saved_narrow_arrangement_is_edited_where_it_was_left() {
        let phone = Layout::settled(1, vec![item("b", 0, 0, 1, 6), item("a", 0, 6, 1, 4)]);
        let e = Editor::new(
            editor().layout().clone(),
            ["a", "b", "c"].map(widget).to_vec(),
            vec![phone],
        );
        assert!(!e.dirty());
        let l = e.layout_for(1);
        let keys: Vec<_> = l
            .items()
            .iter()
            .map(|i| (i.key.as_str(), i.place.y, i.place.h))
            .collect();
        assert_eq!(keys, [("b", 0, 6), ("a", 6, 4), ("c", 10, 4)]);
    }

    #[test]
    fn fresh_keys_count_up_past_what_is_taken() {
        let taken = ["cost", "cost-2"];
        assert_eq!(fresh_key("tools", |k| taken.contains(&k)), "tools");
        assert_eq!(fresh_key("cost", |k| taken.contains(&k)), "cost-3");
    }

    #[test]
    fn a_widget_is_described_as_people_count() {
        assert_eq!(
            describe(
                "Model mix",
                Place {
                    x: 2,
                    y: 1,
                    w: 4,
                    h: 6
                }
            ),
            "Model mix: column 3, row 2, 4 wide, 6 tall"
        );
    }
}
