//! Duration histograms: log2 slots, so that rollups can be summed and still give percentiles.

/// Histogram slot of a duration: 0 for < 1 ms, then one slot per power of two, capped.
pub const HIST_SLOTS: usize = 32;
pub fn hist_slot(ms: i64) -> usize {
    if ms < 1 {
        0
    } else {
        ((64 - (ms as u64).leading_zeros()) as usize).min(HIST_SLOTS - 1)
    }
}

/// Adds `n` observations of `ms` to `hist` (a negative `n` takes them out). A histogram stays
/// empty until its first observation, so rows without durations carry none.
pub(crate) fn record(hist: &mut Vec<i64>, ms: i64, n: i64) {
    if hist.is_empty() {
        *hist = vec![0; HIST_SLOTS];
    }
    hist[hist_slot(ms)] += n;
}

/// Adds `from` into `into` slot by slot: histograms of rollup rows sum to the histogram of
/// their union. Slots past either's end are left as they are.
pub fn merge(into: &mut [i64], from: &[i64]) {
    for (slot, n) in into.iter_mut().zip(from) {
        *slot += n;
    }
}
