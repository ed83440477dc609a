//! CSV exports (dashboard data, the audit log): one field at a time, safe to open in a
//! spreadsheet.

/// One CSV field, quoted when it must be. A leading `=`, `+`, `-`, `@`, tab or carriage
/// return is escaped so a spreadsheet does not run a person's project name (or a stranger's
/// user agent) as a formula.
pub fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '@', '\t', '\r'])
        || (v.starts_with('-') && v.parse::<f64>().is_err())
    {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// One line of fields.
pub fn row<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = fields.into_iter().map(cell).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("-3.5"), "-3.5");
        assert_eq!(cell("-rm"), "'-rm");
        assert_eq!(cell("\t=cmd"), "'\t=cmd");
        assert_eq!(row(["a", "b,c"]), "a,\"b,c\"\n");
    }
}
