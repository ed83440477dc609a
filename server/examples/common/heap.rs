//! What the serving child has allocated and not freed, in all and by size. Resident memory
//! also counts what the allocator keeps after it was freed; the two together tell a leak (or
//! something held per connection) from a cache. The child writes its figures to a file in the
//! data directory every 200 ms; the parent reads them.

use std::{
    alloc::{GlobalAlloc, Layout},
    cell::Cell,
    sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed},
    time::Duration,
};

/// The server's allocator (mimalloc, as the binary's), counting.
pub struct Counting;

/// Counts, one set per thread. A shared counter that every allocation on every thread
/// updates makes its cache line bounce between cores, and that cost more than the
/// allocation itself: it slowed the very requests the benchmarks time. A thread adds to its
/// own set with a plain load and store (no locked instruction; it is the only writer), and
/// the reader sums all sets. Threads past `SHARDS` share the last set, with atomic adds.
const SHARDS: usize = 64;
const CLASSES: usize = 40;

#[repr(align(128))]
struct Shard {
    bytes: AtomicI64,
    /// Live allocations by size class: class c holds sizes in [2^(c-1), 2^c).
    by_size: [AtomicI64; CLASSES],
}

static COUNTS: [Shard; SHARDS] = [const {
    Shard {
        bytes: AtomicI64::new(0),
        by_size: [const { AtomicI64::new(0) }; CLASSES],
    }
}; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const and without a destructor: usable inside the allocator, even as a thread ends.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn class(size: usize) -> usize {
    (usize::BITS - size.leading_zeros()) as usize % CLASSES
}

fn counted(size: usize, n: i64) {
    let mut i = SHARD.get();
    if i == usize::MAX {
        i = NEXT_SHARD.fetch_add(1, Relaxed).min(SHARDS - 1);
        SHARD.set(i);
    }
    let shard = &COUNTS[i];
    let (bytes, count) = (&shard.bytes, &shard.by_size[class(size)]);
    if i < SHARDS - 1 {
        bytes.store(bytes.load(Relaxed) + size as i64 * n, Relaxed);
        count.store(count.load(Relaxed) + n, Relaxed);
    } else {
        bytes.fetch_add(size as i64 * n, Relaxed);
        count.fetch_add(n, Relaxed);
    }
}

fn live_bytes() -> i64 {
    COUNTS.iter().map(|s| s.bytes.load(Relaxed)).sum()
}

fn live_by_size() -> Vec<i64> {
    (0..CLASSES)
        .map(|c| COUNTS.iter().map(|s| s.by_size[c].load(Relaxed)).sum())
        .collect()
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            counted(layout.size(), 1);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        counted(layout.size(), -1);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            counted(layout.size(), 1);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new) };
        // A failed realloc leaves the old block in place.
        if !p.is_null() {
            counted(layout.size(), -1);
            counted(new, 1);
        }
        p
    }
}

fn file(data_dir: &str) -> String {
    format!("{data_dir}/heap-bytes")
}

/// In the serving child: keeps the figures written until the process ends.
pub fn publish(data_dir: &str) {
    let file = file(data_dir);
    tokio::spawn(async move {
        loop {
            let classes: Vec<String> = live_by_size().iter().map(|c| c.to_string()).collect();
            let text = format!("{}\n{}", live_bytes(), classes.join(" "));
            // Renamed into place, so the parent never reads half a file.
            let partial = format!("{file}.partial");
            if std::fs::write(&partial, text).is_ok() {
                let _ = std::fs::rename(&partial, &file);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// The child's allocated bytes and its live allocations by size class, as last published.
#[derive(Clone, Debug, Default)]
pub struct Heap {
    pub bytes: i64,
    pub by_class: Vec<i64>,
}

impl Heap {
    pub fn read(data_dir: &str) -> Heap {
        let text = std::fs::read_to_string(file(data_dir)).unwrap_or_default();
        let mut lines = text.lines();
        Heap {
            bytes: lines.next().and_then(|l| l.parse().ok()).unwrap_or(0),
            by_class: lines
                .next()
                .map(|l| l.split(' ').filter_map(|c| c.parse().ok()).collect())
                .unwrap_or_default(),
        }
    }

    pub fn mib(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0)
    }

    /// The size classes whose live count grew by at least `min` since `earlier`, as
    /// "count of low-high B", per `per` (e.g. per socket).
    pub fn grown_since(&self, earlier: &Heap, min: f64, per: f64) -> Vec<String> {
        self.by_class
            .iter()
            .zip(&earlier.by_class)
            .enumerate()
            .filter(|(_, (a, b))| (*a - *b) as f64 >= min)
            .map(|(c, (a, b))| {
                format!(
                    "{:.1} of {}-{} B",
                    (a - b) as f64 / per.max(1.0),
                    1u64 << c.saturating_sub(1),
                    (1u64 << c) - 1
                )
            })
            .collect()
    }
}
