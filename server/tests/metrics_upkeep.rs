//! The metrics recorder must not keep what it is told for ever. It holds each histogram
//! sample until its upkeep folds them into buckets, so a server timing thousands of requests
//! a second and never scraped grew without end. This binary counts the process's live bytes
//! (its own allocator), which is why it is alone and holds one test.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicIsize, Ordering},
    time::{Duration, Instant},
};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn time_requests(n: usize) {
    // One handle for the lot: the loop is then quick even in a debug build, well inside one
    // upkeep period, so what it holds is all there when measured.
    let h = metrics::histogram!(
        "devpulse_http_request_duration_seconds",
        "method" => "GET",
        "route" => "/upkeep-test"
    );
    for _ in 0..n {
        h.record(0.002);
    }
}

#[test]
fn timed_requests_are_folded_into_buckets_without_a_scrape() {
    server::monitoring::handle();
    // The series exists before the baseline, so only samples count.
    time_requests(1);
    let before = live();
    const SAMPLES: usize = 640_000;
    time_requests(SAMPLES);
    let held = live() - before;
    println!(
        "{SAMPLES} samples held {held} bytes ({:.1} per sample) before upkeep",
        held as f64 / SAMPLES as f64
    );
    // Shows this test can see the growth it guards against (a few bytes a sample).
    assert!(
        held > 2_000_000,
        "the samples held only {held} bytes: the recorder changed how it stores them"
    );
    // Freed blocks are reclaimed as threads touch the histogram again (epoch-based), so keep
    // timing a trickle while waiting for the upkeep.
    let deadline = Instant::now() + server::monitoring::UPKEEP * 3;
    loop {
        time_requests(10);
        let now = live() - before;
        if now < held / 10 {
            println!("after upkeep: {now} bytes");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{now} of {held} bytes still held after three upkeep periods: nothing folds the samples in"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
