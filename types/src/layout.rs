//! The dashboard grid: where each widget sits and how moving or resizing one moves the
//! others. Pure data and arithmetic (no browser types), so the editor in the browser, the
//! server that validates a saved layout and the tests all run this same code.
//!
//! The grid is [`COLUMNS`] wide and unbounded downwards, in rows of [`ROW_PX`] pixels.
//! Items never overlap and float up (vertical compaction): after any change every item sits
//! as high as the items above it allow. Narrower screens get a layout derived from the wide
//! one ([`Layout::for_columns`]) in the same reading order.

use serde::{Deserialize, Serialize};

/// The columns of the saved (wide) layout: 24 divides into 2, 3, 4, 6, 8 and 12 per row.
pub const COLUMNS: u16 = 24;
/// One grid row, in pixels.
pub const ROW_PX: u32 = 30;
/// How tall the grid may grow, in rows (far past any sensible dashboard; it bounds the work
/// a hostile layout can ask for).
pub const MAX_ROWS: u16 = 2000;

/// Where an item sits: column `x`, row `y` (from 0), `w` columns wide and `h` rows tall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Place {
    pub fn overlaps(&self, o: &Place) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// The first row below it.
    pub fn bottom(&self) -> u16 {
        self.y + self.h
    }
}

/// The sizes an item may take, in columns and rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bounds {
    pub min_w: u16,
    pub max_w: u16,
    pub min_h: u16,
    pub max_h: u16,
}

impl Bounds {
    pub const ANY: Bounds = Bounds {
        min_w: 1,
        max_w: COLUMNS,
        min_h: 1,
        max_h: 100,
    };

    fn clamp(&self, w: u16, h: u16, cols: u16) -> (u16, u16) {
        let max_w = self.max_w.min(cols).max(1);
        (
            w.clamp(self.min_w.min(max_w), max_w),
            h.clamp(self.min_h, self.max_h.max(self.min_h)),
        )
    }
}

/// One widget on the grid: `key` names it within its dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub place: Place,
    pub bounds: Bounds,
}

impl Item {
    /// `key` at (`x`, `y`), `w` × `h`, any size allowed.
    pub fn anywhere(key: &str, x: u16, y: u16, w: u16, h: u16) -> Item {
        Item {
            key: key.into(),
            place: Place { x, y, w, h },
            bounds: Bounds::ANY,
        }
    }
}

/// Items on a grid of `cols` columns, never overlapping, always compacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    cols: u16,
    items: Vec<Item>,
}

/// Why a saved layout cannot be used as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// The item at this index leaves the grid or breaks its size bounds.
    OutOfBounds(usize),
    /// These two items (by index) cover the same cell.
    Overlap(usize, usize),
    /// Two items share a key.
    DuplicateKey(usize),
}

impl Layout {
    /// `items` as they are placed, checked: inside the grid, within their bounds, no two
    /// overlapping, keys unique. Gaps are allowed (they close at the next edit).
    pub fn checked(cols: u16, items: Vec<Item>) -> Result<Layout, Flaw> {
        for (i, it) in items.iter().enumerate() {
            let p = it.place;
            let b = it.bounds;
            if p.w == 0
                || p.h == 0
                || p.x + p.w > cols
                || p.bottom() > MAX_ROWS
                || p.w < b.min_w.min(cols)
                || p.w > b.max_w
                || p.h < b.min_h
                || p.h > b.max_h
            {
                return Err(Flaw::OutOfBounds(i));
            }
            if items[..i].iter().any(|o| o.key == it.key) {
                return Err(Flaw::DuplicateKey(i));
            }
            if let Some(j) = items[..i].iter().position(|o| o.place.overlaps(&p)) {
                return Err(Flaw::Overlap(j, i));
            }
        }
        Ok(Layout { cols, items })
    }

    /// `items` wherever they ask to be, made valid: sizes clamped to their bounds and the grid,
    /// overlaps pushed down, then compacted.
    pub fn settled(cols: u16, items: Vec<Item>) -> Layout {
        let mut l = Layout {
            cols: cols.max(1),
            items: Vec::with_capacity(items.len()),
        };
        for mut it in items {
            let (w, h) = it.bounds.clamp(it.place.w, it.place.h, l.cols);
            it.place.w = w;
            it.place.h = h;
            it.place.x = it.place.x.min(l.cols - w);
            it.place.y = it.place.y.min(MAX_ROWS - h);
            l.items.push(it);
        }
        l.compact();
        l
    }

    pub fn cols(&self) -> u16 {
        self.cols
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn get(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.key == key)
    }

    /// The rows the layout takes.
    pub fn height(&self) -> u16 {
        self.items
            .iter()
            .map(|i| i.place.bottom())
            .max()
            .unwrap_or(0)
    }

    /// Moves `key` so its top-left corner is at (`x`, `y`) (clamped into the grid); the items
    /// in the way make room and everything floats up. False when there is no such item.
    pub fn move_to(&mut self, key: &str, x: u16, y: u16) -> bool {
        let Some(i) = self.index(key) else {
            return false;
        };
        let p = self.items[i].place;
        let x = x.min(self.cols - p.w);
        let y = y.min(MAX_ROWS - p.h);
        let moving_up = y < p.y;
        self.items[i].place.x = x;
        self.items[i].place.y = y;
        self.make_room(i, moving_up, true);
        self.compact();
        true
    }

    /// Resizes `key` to `w` × `h` (clamped to its bounds and the grid; it grows right and
    /// down, moving left when it would leave the grid). False when there is no such item.
    pub fn resize(&mut self, key: &str, w: u16, h: u16) -> bool {
        let Some(i) = self.index(key) else {
            return false;
        };
        let (w, h) = self.items[i].bounds.clamp(w, h, self.cols);
        let p = &mut self.items[i].place;
        p.w = w;
        p.h = h;
        p.x = p.x.min(self.cols - w);
        p.y = p.y.min(MAX_ROWS - h);
        self.make_room(i, false, false);
        self.compact();
        true
    }

    /// Adds `item` at the first place it fits, scanning rows from the top (so a new widget
    /// fills a gap before going to the bottom). Its key must be new.
    pub fn insert(&mut self, mut item: Item) -> bool {
        if self.index(&item.key).is_some() {
            return false;
        }
        let (w, h) = item.bounds.clamp(item.place.w, item.place.h, self.cols);
        item.place.w = w;
        item.place.h = h;
        let place = (0..=self.height())
            .flat_map(|y| (0..=self.cols - w).map(move |x| Place { x, y, w, h }))
            .find(|p| self.items.iter().all(|o| !o.place.overlaps(p)))
            .unwrap_or(Place {
                x: 0,
                y: self.height(),
                w,
                h,
            });
        item.place = place;
        self.items.push(item);
        self.compact();
        true
    }

    /// Takes `key` off the grid; the items below float up.
    pub fn remove(&mut self, key: &str) -> Option<Item> {
        let i = self.index(key)?;
        let item = self.items.remove(i);
        self.compact();
        Some(item)
    }

    /// Floats every item up as far as the items above it allow, in reading order (top to
    /// bottom, then left to right). Also the repair for any overlap: an item that collides
    /// with one already settled goes down until it is free.
    pub fn compact(&mut self) {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by_key(|&i| {
            let p = self.items[i].place;
            (p.y, p.x, i)
        });
        let mut settled: Vec<Place> = Vec::with_capacity(order.len());
        for &i in &order {
            let mut p = self.items[i].place;
            while p.y > 0
                && !settled
                    .iter()
                    .any(|s| s.overlaps(&Place { y: p.y - 1, ..p }))
            {
                p.y -= 1;
            }
            while let Some(s) = settled.iter().find(|s| s.overlaps(&p)) {
                p.y = s.bottom();
            }
            self.items[i].place = p;
            settled.push(p);
        }
        // Reading order is also the order of the document (and of keyboard focus).
        let mut items = std::mem::take(&mut self.items);
        let mut sorted: Vec<(Place, Item)> = items.drain(..).map(|i| (i.place, i)).collect();
        sorted.sort_by_key(|(p, _)| (p.y, p.x));
        self.items = sorted.into_iter().map(|(_, i)| i).collect();
    }

    /// The same items on a grid of `cols` columns (a narrower screen): x and w scaled, each
    /// at least its minimum width, in the same reading order; one column stacks them all
    /// full width.
    pub fn for_columns(&self, cols: u16) -> Layout {
        let cols = cols.max(1);
        if cols == self.cols {
            return self.clone();
        }
        let scale = |v: u16| (u32::from(v) * u32::from(cols) / u32::from(self.cols)) as u16;
        let items = self
            .items
            .iter()
            .map(|it| {
                let p = it.place;
                let w = if cols == 1 {
                    1
                } else {
                    scale(p.w).max(1).max(it.bounds.min_w.min(cols)).min(cols)
                };
                Item {
                    key: it.key.clone(),
                    place: Place {
                        x: scale(p.x).min(cols - w),
                        y: p.y,
                        w,
                        h: p.h,
                    },
                    bounds: Bounds {
                        max_w: cols,
                        min_w: it.bounds.min_w.min(cols),
                        ..it.bounds
                    },
                }
            })
            .collect();
        Layout::settled(cols, items)
    }

    /// This arrangement, made by hand for a narrower screen, kept for the items of `derived`
    /// (the same grid derived from the wide layout): items gone from `derived` are dropped,
    /// items new to it go below in its reading order, and every item takes its bounds.
    pub fn following(&self, derived: &Layout) -> Layout {
        let kept: Vec<Item> = self
            .items
            .iter()
            .filter_map(|it| {
                derived.get(&it.key).map(|d| Item {
                    key: it.key.clone(),
                    place: it.place,
                    bounds: d.bounds,
                })
            })
            .collect();
        let below = kept.iter().map(|i| i.place.bottom()).max().unwrap_or(0);
        let new = derived
            .items
            .iter()
            .filter(|d| self.get(&d.key).is_none())
            .map(|d| Item {
                place: Place {
                    y: below.saturating_add(d.place.y),
                    ..d.place
                },
                ..d.clone()
            });
        Layout::settled(derived.cols, kept.into_iter().chain(new).collect())
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.items.iter().position(|i| i.key == key)
    }

    /// Moves the items that collide with item `i` out of its way: the first one the person
    /// pushed goes above it when there is room there (so dragging down past a neighbour
    /// swaps them), the rest go below it, cascading.
    fn make_room(&mut self, i: usize, moving_up: bool, by_hand: bool) {
        let mut by_hand = by_hand;
        let mut queue = vec![i];
        // Each push moves an item strictly down, below a bounded grid: this ends.
        while let Some(mover) = queue.pop() {
            let m = self.items[mover].place;
            let mut hit: Vec<usize> = (0..self.items.len())
                .filter(|&j| j != mover && self.items[j].place.overlaps(&m))
                .collect();
            hit.sort_by_key(|&j| self.items[j].place.y);
            if moving_up {
                hit.reverse();
            }
            for j in hit {
                let p = self.items[j].place;
                if !self.items[j].place.overlaps(&self.items[mover].place) {
                    continue;
                }
                if by_hand {
                    by_hand = false;
                    if let Some(y) = m.y.checked_sub(p.h) {
                        let above = Place { y, ..p };
                        if self
                            .items
                            .iter()
                            .enumerate()
                            .all(|(k, o)| k == j || !o.place.overlaps(&above))
                        {
                            self.items[j].place = above;
                            continue;
                        }
                    }
                }
                self.items[j].place.y = m.bottom().min(MAX_ROWS - p.h);
                queue.push(j);
            }
        }
    }
}

/// Pages are laid out for three widths: the saved 24 columns from 1200 px, 12 from 768 px,
/// one column below.
pub const BREAKPOINTS: [(u32, u16); 3] = [(1200, 24), (768, 12), (0, 1)];

/// The column counts of the narrower screens, whose arrangements follow the wide one unless
/// made by hand.
pub const NARROWER: [u16; 2] = [BREAKPOINTS[1].1, BREAKPOINTS[2].1];

/// The columns a page `px` wide is laid out in.
pub fn columns_at(px: f64) -> u16 {
    BREAKPOINTS
        .iter()
        .find(|(from, _)| px >= f64::from(*from))
        .map_or(1, |(_, cols)| *cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(key: &str, x: u16, y: u16, w: u16, h: u16) -> Item {
        Item::anywhere(key, x, y, w, h)
    }

    fn at(l: &Layout, key: &str) -> (u16, u16, u16, u16) {
        let p = l.get(key).unwrap().place;
        (p.x, p.y, p.w, p.h)
    }

    fn no_overlaps(l: &Layout) -> bool {
        let it = l.items();
        (0..it.len()).all(|i| (0..i).all(|j| !it[i].place.overlaps(&it[j].place)))
    }

    #[test]
    fn items_float_up_into_gaps() {
        let l = Layout::settled(24, vec![item("a", 0, 5, 12, 4), item("b", 12, 9, 12, 4)]);
        assert_eq!(at(&l, "a"), (0, 0, 12, 4));
        assert_eq!(at(&l, "b"), (12, 0, 12, 4));
    }

    #[test]
    fn dragging_down_past_a_neighbour_swaps_them() {
        let mut l = Layout::settled(24, vec![item("a", 0, 0, 24, 4), item("b", 0, 4, 24, 4)]);
        l.move_to("a", 0, 5);
        assert_eq!(at(&l, "b"), (0, 0, 24, 4));
        assert_eq!(at(&l, "a"), (0, 4, 24, 4));
    }

    #[test]
    fn dragging_up_pushes_the_items_in_the_way_down() {
        let mut l = Layout::settled(
            24,
            vec![
                item("a", 0, 0, 12, 4),
                item("b", 12, 0, 12, 4),
                item("c", 0, 4, 24, 6),
            ],
        );
        l.move_to("c", 6, 0);
        assert_eq!(at(&l, "c"), (0, 0, 24, 6), "x clamped to the grid");
        assert_eq!(at(&l, "a"), (0, 6, 12, 4));
        assert_eq!(at(&l, "b"), (12, 6, 12, 4));
    }

    #[test]
    fn resizing_respects_bounds_and_makes_room() {
        let mut l = Layout::settled(24, vec![item("a", 0, 0, 12, 4), item("b", 12, 0, 12, 4)]);
        l.items[0].bounds = Bounds {
            min_w: 4,
            max_w: 16,
            min_h: 2,
            max_h: 8,
        };
        l.resize("a", 40, 1);
        assert_eq!(at(&l, "a"), (0, 0, 16, 2));
        assert_eq!(at(&l, "b"), (12, 2, 12, 4), "b made room below");
        assert!(!l.resize("nope", 1, 1));
    }

    #[test]
    fn a_new_item_fills_the_first_gap() {
        let mut l = Layout::settled(24, vec![item("a", 0, 0, 12, 4), item("b", 0, 4, 24, 4)]);
        assert!(l.insert(item("c", 0, 99, 8, 4)));
        assert_eq!(at(&l, "c"), (12, 0, 8, 4));
        assert!(!l.insert(item("c", 0, 0, 1, 1)), "keys are unique");
        l.remove("a");
        assert_eq!(at(&l, "c"), (12, 0, 8, 4));
        assert_eq!(at(&l, "b"), (0, 4, 24, 4), "c still holds b down");
    }

    #[test]
    fn narrow_screens_keep_the_reading_order() {
        let l = Layout::settled(
            24,
            vec![
                item("a", 0, 0, 16, 4),
                item("b", 16, 0, 8, 4),
                item("c", 0, 4, 24, 2),
            ],
        );
        let m = l.for_columns(12);
        assert_eq!(at(&m, "a"), (0, 0, 8, 4));
        assert_eq!(at(&m, "b"), (8, 0, 4, 4));
        let n = l.for_columns(1);
        let keys: Vec<_> = n.items().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(at(&n, "b"), (0, 4, 1, 4));
        assert_eq!(at(&n, "c"), (0, 8, 1, 2));
    }

    #[test]
    fn a_hand_made_narrow_arrangement_follows_the_board_it_belongs_to() {
        let wide = Layout::settled(
            24,
            vec![
                item("a", 0, 0, 12, 4),
                item("b", 12, 0, 12, 4),
                item("c", 0, 4, 24, 2),
            ],
        );
        // By hand on one column: c first, then a; b was not placed.
        let mine = Layout::settled(1, vec![item("c", 0, 0, 1, 3), item("a", 0, 3, 1, 4)]);
        let n = mine.following(&wide.for_columns(1));
        let keys: Vec<_> = n.items().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["c", "a", "b"],
            "the new one goes below, in reading order"
        );
        assert_eq!(at(&n, "c"), (0, 0, 1, 3), "the hand-made height is kept");
        // A widget taken off the board leaves the narrow arrangement too.
        let mut fewer = wide.clone();
        fewer.remove("a");
        let n = mine.following(&fewer.for_columns(1));
        assert!(n.get("a").is_none());
        assert_eq!(at(&n, "c"), (0, 0, 1, 3));
        assert_eq!(
            n.following(&fewer.for_columns(1)),
            n,
            "following is idempotent"
        );
    }

    #[test]
    fn each_width_has_its_columns() {
        assert_eq!(columns_at(1600.0), 24);
        assert_eq!(columns_at(1200.0), 24);
        assert_eq!(columns_at(1199.0), 12);
        assert_eq!(columns_at(768.0), 12);
        assert_eq!(columns_at(375.0), 1);
        assert_eq!(NARROWER, [12, 1]);
    }

    #[test]
    fn checked_names_the_flaw() {
        assert_eq!(
            Layout::checked(24, vec![item("a", 20, 0, 8, 4)]).unwrap_err(),
            Flaw::OutOfBounds(0)
        );
        assert_eq!(
            Layout::checked(24, vec![item("a", 0, 0, 8, 4), item("b", 4, 2, 8, 4)]).unwrap_err(),
            Flaw::Overlap(0, 1)
        );
        assert_eq!(
            Layout::checked(24, vec![item("a", 0, 0, 8, 4), item("a", 8, 0, 8, 4)]).unwrap_err(),
            Flaw::DuplicateKey(1)
        );
        assert!(Layout::checked(24, vec![item("a", 0, 3, 8, 4)]).is_ok());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Move(usize, u16, u16),
        Resize(usize, u16, u16),
        Insert(u16, u16),
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..12usize, 0..30u16, 0..60u16).prop_map(|(i, x, y)| Op::Move(i, x, y)),
            (0..12usize, 0..30u16, 0..20u16).prop_map(|(i, w, h)| Op::Resize(i, w, h)),
            (1..30u16, 1..12u16).prop_map(|(w, h)| Op::Insert(w, h)),
            (0..12usize).prop_map(Op::Remove),
        ]
    }

    fn start() -> impl Strategy<Value = Vec<(u16, u16, u16, u16)>> {
        prop::collection::vec((0..24u16, 0..40u16, 1..24u16, 1..10u16), 0..10)
    }

    proptest! {
        #[test]
        fn any_sequence_of_edits_leaves_a_valid_compact_layout(
            start in start(),
            ops in prop::collection::vec(op(), 0..40),
        ) {
            let items = start
                .iter()
                .enumerate()
                .map(|(i, &(x, y, w, h))| item(&format!("w{i}"), x, y, w, h))
                .collect();
            let mut l = Layout::settled(24, items);
            let mut next = start.len();
            for op in ops {
                let key = |i: usize, l: &Layout| {
                    l.items().get(i % l.items().len().max(1)).map(|it| it.key.clone())
                };
                match op {
                    Op::Move(i, x, y) => { if let Some(k) = key(i, &l) { l.move_to(&k, x, y); } }
                    Op::Resize(i, w, h) => { if let Some(k) = key(i, &l) { l.resize(&k, w, h); } }
                    Op::Insert(w, h) => { l.insert(item(&format!("w{next}"), 0, 0, w, h)); next += 1; }
                    Op::Remove(i) => { if let Some(k) = key(i, &l) { l.remove(&k); } }
                }
                prop_assert!(no_overlaps(&l), "overlap after {op:?}: {l:?}");
                for it in l.items() {
                    prop_assert!(it.place.w >= 1 && it.place.x + it.place.w <= 24, "{it:?}");
                    prop_assert!(it.place.bottom() <= MAX_ROWS);
                }
                let mut again = l.clone();
                again.compact();
                prop_assert_eq!(&again, &l, "compaction is idempotent");
                prop_assert!(Layout::checked(24, l.items().to_vec()).is_ok());
            }
            for cols in [12, 6, 1] {
                let n = l.for_columns(cols);
                prop_assert!(no_overlaps(&n));
                prop_assert_eq!(n.items().len(), l.items().len());
                prop_assert!(n.items().iter().all(|it| it.place.x + it.place.w <= cols));
                // An arrangement made by hand from the starting board, followed after the
                // edits: the board's items exactly, valid on its grid.
                let first = Layout::settled(24, start.iter().enumerate()
                    .map(|(i, &(x, y, w, h))| item(&format!("w{i}"), x, y, w, h)).collect());
                let by_hand = first.for_columns(cols).following(&n);
                prop_assert!(Layout::checked(cols, by_hand.items().to_vec()).is_ok());
                let mut keys: Vec<_> = by_hand.items().iter().map(|i| i.key.clone()).collect();
                let mut want: Vec<_> = n.items().iter().map(|i| i.key.clone()).collect();
                keys.sort();
                want.sort();
                prop_assert_eq!(keys, want);
            }
        }
    }
}
