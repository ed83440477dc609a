//! What the serving child has allocated and not freed, in all and by size. Resident memory
//! also counts what the allocator keeps after it was freed; the two together tell a leak (or
//! something held per connection) from a cache. The child writes its figures to a file in the
//! data directory every 200 ms; the parent reads them.

use std::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicI64, Ordering::Relaxed},
    time::Duration,
};

/// The server's allocator (mimalloc, as the binary's), counting.
pub struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
/// Live allocations by size class: class c holds sizes in [2^(c-1), 2^c).
static LIVE_BY_SIZE: [AtomicI64; 40] = [const { AtomicI64::new(0) }; 40];

fn class(size: usize) -> usize {
    (usize::BITS - size.leading_zeros()) as usize % 40
}

fn counted(size: usize, n: i64) {
    LIVE_BYTES.fetch_add(size as i64 * n, Relaxed);
    LIVE_BY_SIZE[class(size)].fetch_add(n, Relaxed);
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
            let classes: Vec<String> = LIVE_BY_SIZE
                .iter()
                .map(|c| c.load(Relaxed).to_string())
                .collect();
            let text = format!("{}\n{}", LIVE_BYTES.load(Relaxed), classes.join(" "));
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
