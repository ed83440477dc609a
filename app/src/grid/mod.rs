//! The layout editor's state, apart from the browser: the arrangement being edited, what
//! was last saved, undo and redo, and a widget picked up with the keyboard. Every change the
//! editor makes (a drag, a key, a button) goes through here and the layout engine
//! (`types::layout`), so all of it is unit-tested natively; the page only draws it.

use types::layout::{Layout, Place, COLUMNS};

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

/// A widget picked up with the keyboard: the arrangement before, to restore on Escape.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    key: String,
    before: Layout,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Editor {
    layout: Layout,
    saved: Layout,
    undo: Vec<Layout>,
    redo: Vec<Layout>,
    held: Option<Held>,
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
    pub fn new(layout: Layout) -> Editor {
        Editor {
            saved: layout.clone(),
            layout,
            undo: Vec::new(),
            redo: Vec::new(),
            held: None,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether there are changes since the last save.
    pub fn dirty(&self) -> bool {
        self.layout != self.saved
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

    /// One undoable change; false (and nothing recorded) when it changed nothing.
    pub fn change(&mut self, f: impl FnOnce(&mut Layout) -> bool) -> bool {
        let before = self.layout.clone();
        if !f(&mut self.layout) || self.layout == before {
            self.layout = before;
            return false;
        }
        self.remember(before);
        true
    }

    fn remember(&mut self, before: Layout) {
        self.undo.push(before);
        if self.undo.len() > UNDO_STEPS {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Moves or resizes `key` one cell towards `dir` (resizing grows right and down).
    pub fn step(&mut self, key: &str, dir: Dir, resize: bool) -> bool {
        let Some(p) = self.layout.get(key).map(|i| i.place) else {
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
                l.move_to(key, add(p.x, dx).min(COLUMNS), add(p.y, dy))
            }
        };
        if self.held.is_some() {
            // While held, steps are one change, recorded when it is dropped.
            let before = self.layout.clone();
            apply(&mut self.layout);
            self.layout != before
        } else {
            self.change(apply)
        }
    }

    /// Picks `key` up (Enter or Space on a focused widget).
    pub fn pick_up(&mut self, key: &str) -> bool {
        if self.layout.get(key).is_none() {
            return false;
        }
        self.held = Some(Held {
            key: key.to_string(),
            before: self.layout.clone(),
        });
        true
    }

    /// Puts the held widget down where it is: one undoable change.
    pub fn drop_held(&mut self) -> bool {
        let Some(h) = self.held.take() else {
            return false;
        };
        if h.before != self.layout {
            self.remember(h.before);
        }
        true
    }

    /// Puts the held widget back where it was picked up.
    pub fn cancel_held(&mut self) -> bool {
        let Some(h) = self.held.take() else {
            return false;
        };
        self.layout = h.before;
        true
    }

    pub fn undo(&mut self) -> bool {
        self.held = None;
        let Some(before) = self.undo.pop() else {
            return false;
        };
        self.redo.push(std::mem::replace(&mut self.layout, before));
        true
    }

    pub fn redo(&mut self) -> bool {
        self.held = None;
        let Some(after) = self.redo.pop() else {
            return false;
        };
        self.undo.push(std::mem::replace(&mut self.layout, after));
        true
    }

    /// Back to what was last saved (history kept, so it can be undone).
    pub fn discard(&mut self) {
        self.held = None;
        if self.dirty() {
            let before = std::mem::replace(&mut self.layout, self.saved.clone());
            self.remember(before);
        }
    }

    /// The current arrangement was saved.
    pub fn saved(&mut self) {
        self.saved = self.layout.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::layout::Item;

    fn item(key: &str, x: u16, y: u16, w: u16, h: u16) -> Item {
        Item::anywhere(key, x, y, w, h)
    }

    fn editor() -> Editor {
        Editor::new(Layout::settled(
            24,
            vec![
                item("a", 0, 0, 12, 4),
                item("b", 12, 0, 12, 4),
                item("c", 0, 4, 24, 4),
            ],
        ))
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
