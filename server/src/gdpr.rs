//! A person's export archive: the files [`store::gdpr::export`] reads, as a `.tar.gz` with a
//! README saying what each file holds. Pure, so it is tested without a database.

use std::{collections::BTreeMap, io::Write};

use chrono::{DateTime, Utc};
use flate2::{write::GzEncoder, Compression};
use store::gdpr::ExportFile;

/// What the archive's README says about a file, by name (the rest are one table's rows each).
fn about(name: &str) -> String {
    match name {
        "profile.json" => "your profile: e-mail, name, role, status, when it was made (never your password's hash)".into(),
        "emails.ndjson" => "e-mails the workspace sent to your address (their content is not kept once sent)".into(),
        "audit_log.ndjson" => "audit log entries of what you did and of what others did about you".into(),
        other => {
            let mut parts = other.trim_end_matches(".ndjson").splitn(2, '.');
            let table = parts.next().unwrap_or(other);
            let column = parts.next().unwrap_or("user_id");
            format!("rows of the `{table}` table whose `{column}` is you")
        }
    }
}

/// The README at the archive's root.
pub fn readme(user: &str, made: DateTime<Utc>, files: &[ExportFile]) -> String {
    let mut s = format!(
        "# Your devpulse data\n\nEverything this workspace stores about you ({user}), as of {}.\n\
         Each file holds JSON: `.json` one value, `.ndjson` one row per line. Secrets are left out\n\
         (password and key hashes, sealed second-factor seeds); everything else is as stored.\n\n",
        made.format("%Y-%m-%d %H:%M UTC")
    );
    for f in files {
        s.push_str(&format!(
            "- `{}` ({} rows): {}\n",
            f.name,
            f.lines.len(),
            about(&f.name)
        ));
    }
    s
}

/// The archive and the rows it holds per file.
pub fn archive(
    user: &str,
    made: DateTime<Utc>,
    files: &[ExportFile],
) -> std::io::Result<(Vec<u8>, BTreeMap<String, i64>)> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut add = |name: &str, body: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(made.timestamp().max(0) as u64);
        header.set_cksum();
        tar.append_data(&mut header, format!("devpulse-export/{name}"), body)
    };
    add("README.md", readme(user, made, files).as_bytes())?;
    let mut counts = BTreeMap::new();
    for f in files {
        let mut body = Vec::new();
        for line in &f.lines {
            body.write_all(line.as_bytes())?;
            body.push(b'\n');
        }
        add(&f.name, &body)?;
        counts.insert(f.name.clone(), f.lines.len() as i64);
    }
    let gz = tar.into_inner()?;
    Ok((gz.finish()?, counts))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_archive_holds_a_readme_and_every_file_line_for_line() {
        let files = vec![
            ExportFile {
                name: "profile.json".into(),
                lines: vec![r#"{"email":"ana@example.com"}"#.into()],
            },
            ExportFile {
                name: "events.user_id.ndjson".into(),
                lines: vec!["{\"k\":1}".into(), "{\"k\":2}".into()],
            },
        ];
        let made = "2026-12-04T10:00:00Z".parse().unwrap();
        let (gz, counts) = archive("ana@example.com", made, &files).unwrap();
        assert_eq!(counts["events.user_id.ndjson"], 2);
        let mut read = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
        let mut seen = BTreeMap::new();
        for entry in read.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut body = String::new();
            entry.read_to_string(&mut body).unwrap();
            seen.insert(name, body);
        }
        assert_eq!(
            seen["devpulse-export/events.user_id.ndjson"],
            "{\"k\":1}\n{\"k\":2}\n"
        );
        let readme = &seen["devpulse-export/README.md"];
        assert!(readme.contains("ana@example.com"), "{readme}");
        assert!(readme.contains("`events.user_id.ndjson` (2 rows): rows of the `events` table whose `user_id` is you"), "{readme}");
        assert_eq!(seen.len(), 3);
    }
}
