//! How numbers read on the page: 1.2k, $3.40, 12.5%, 1.4 s. Pure, so the server's render and
//! the browser's agree to the character.

/// 950, 1.2k, 34k, 1.2M, 3.4B.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (scaled, unit) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        return if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
    };
    if scaled.abs() >= 100.0 {
        format!("{scaled:.0}{unit}")
    } else {
        let s = format!("{scaled:.1}");
        format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
    }
}

/// $0.42, $3.40, $1,234, $12.3k.
pub fn usd(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("${}", compact(v))
    } else if v.abs() >= 1_000.0 {
        let whole = v.round() as i64;
        let s = whole.abs().to_string();
        let (head, tail) = s.split_at(s.len() - 3);
        format!("{}${head},{tail}", if whole < 0 { "-" } else { "" })
    } else {
        format!("${v:.2}")
    }
}

/// A count with thousands grouped: 1,234,567 (shared with the text the server writes).
pub use types::numbers::grouped;

/// A share (0.125) as 12.5%.
pub fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// 350 ms, 1.4 s, 2.5 min, 3.1 h.
pub fn duration_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1e3)
    } else if ms < 3_600_000.0 {
        format!("{:.1} min", ms / 6e4)
    } else {
        format!("{:.1} h", ms / 3.6e6)
    }
}

/// The change from `previous` to `current` as a share of `previous`; `None` when there was
/// nothing before to compare with.
pub fn change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous.abs())
}

/// "+12.5%", "−3.0%", "±0%".
pub fn signed_pct(share: f64) -> String {
    if share.abs() < 0.0005 {
        "±0%".into()
    } else if share > 0.0 {
        format!("+{}", pct(share))
    } else {
        format!("−{}", pct(-share))
    }
}

/// A change as the KPI tiles say it: "+12.5% vs previous", or, from a base so small that a
/// percentage means nothing (ten times or more), "11× previous" ("+104,670.9%" helped no one).
pub fn change_vs_previous(share: f64) -> String {
    if share >= 9.0 {
        format!("{}× previous", grouped((1.0 + share).round() as i64))
    } else {
        format!("{} vs previous", signed_pct(share))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_compactly() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(7.5), "7.5");
        assert_eq!(compact(1_234.0), "1.2k");
        assert_eq!(compact(1_000.0), "1k");
        assert_eq!(compact(34_000.0), "34k");
        assert_eq!(compact(123_456.0), "123k");
        assert_eq!(compact(1_260_000.0), "1.3M");
        assert_eq!(compact(-2_000.0), "-2k");
        assert_eq!(compact(3.4e9), "3.4B");
    }

    #[test]
    fn money_reads_as_dollars() {
        assert_eq!(usd(3.4), "$3.40");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(1_234.4), "$1,234");
        assert_eq!(usd(12_345.0), "$12.3k");
        assert_eq!(usd(-1_500.0), "-$1,500");
    }

    #[test]
    fn shares_and_changes_read_as_percentages() {
        assert_eq!(pct(0.125), "12.5%");
        assert_eq!(pct(1.0), "100.0%");
        assert_eq!(pct(0.0004), "<0.1%");
        assert_eq!(change(120.0, 100.0), Some(0.2));
        assert_eq!(change(5.0, 0.0), None);
        assert_eq!(signed_pct(0.2), "+20.0%");
        assert_eq!(signed_pct(-0.03), "−3.0%");
        assert_eq!(signed_pct(0.0), "±0%");
        assert_eq!(change_vs_previous(0.2), "+20.0% vs previous");
        assert_eq!(change_vs_previous(-0.97), "−97.0% vs previous");
        assert_eq!(change_vs_previous(8.5), "+850.0% vs previous");
        assert_eq!(change_vs_previous(9.0), "10× previous");
        assert_eq!(change_vs_previous(1_046.709), "1,048× previous");
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration_ms(350.0), "350 ms");
        assert_eq!(duration_ms(1_400.0), "1.4 s");
        assert_eq!(duration_ms(150_000.0), "2.5 min");
        assert_eq!(duration_ms(3.6e6 * 3.1), "3.1 h");
    }
}
