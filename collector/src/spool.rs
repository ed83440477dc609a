//! The local spool: what hooks recorded and the server does not have yet.
//!
//! Hooks append one line each to `current.ndjson`, under a shared `flock`; a writer that finds
//! its file was rotated away (the inode under the name changed) opens the new one. `sync`
//! rotates by renaming `current.ndjson` to `seg-<nanos>.ndjson` and takes an exclusive lock on
//! the segment before reading it, so a writer still inside its append finishes first. Each
//! append is one `write` of a whole line with `O_APPEND`; a crash can leave at most a torn last
//! line (no newline, or not JSON), which readers detect and skip.
//!
//! The directory is 0700 and the files 0600 (see [`crate::config`]); segments keep the mode of
//! the file they were renamed from.

use std::{
    fs::{self, File},
    io::{self, Write},
    os::unix::{fs::MetadataExt, io::AsRawFd},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use crate::config::{make_private, private_dir, private_file};

const CURRENT: &str = "current.ndjson";

/// Appends one line (which must not contain a newline) to the spool in `dir`.
pub fn append(dir: &Path, line: &[u8]) -> io::Result<()> {
    let path = dir.join(CURRENT);
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    for _ in 0..8 {
        let mut file = match open_append(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                private_dir(dir)?;
                open_append(&path)?
            }
            Err(e) => return Err(e),
        };
        lock(&file, libc::LOCK_SH)?;
        // Rotated between our open and our lock: this file is sync's now.
        if !same_file(&file, &path) {
            continue;
        }
        // Created 0600, unless an older version made it.
        make_private(&file)?;
        // A torn last line (a crash mid-write) must not swallow this one. Under the shared lock
        // another writer's append may race this check; the worst case is a blank line.
        if ends_torn(&file)? {
            file.write_all(b"\n")?;
        }
        file.write_all(&buf)?;
        return Ok(());
    }
    Err(io::Error::other("the spool kept rotating under us"))
}

fn ends_torn(file: &File) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

fn open_append(path: &Path) -> io::Result<File> {
    // Readable too, to look at the last byte before appending.
    private_file()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

fn lock(file: &File, how: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own; released when the file closes.
    if unsafe { libc::flock(file.as_raw_fd(), how) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Takes `path`'s lock without waiting; `None` if another process holds it. The lock lasts as
/// long as the returned file.
pub fn try_lock(path: &Path) -> io::Result<Option<File>> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let file = private_file()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match lock(&file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Closes the current file to writers (if it holds anything) and returns every segment,
/// oldest first.
pub fn rotate(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let current = dir.join(CURRENT);
    if fs::metadata(&current).is_ok_and(|m| m.len() > 0) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        fs::rename(&current, dir.join(format!("seg-{nanos:024}.ndjson")))?;
    }
    segments(dir)
}

/// Sealed segments, oldest first.
pub fn segments(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".ndjson"))
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    out.sort();
    Ok(out)
}

/// A segment's lines: good ones in order, and the 1-based numbers of torn or corrupt ones.
pub struct Lines {
    pub good: Vec<(usize, serde_json::Value)>,
    pub bad: Vec<usize>,
}

/// Reads a segment once every writer that still had it open is done with it.
pub fn read_segment(path: &Path) -> io::Result<Lines> {
    let file = File::open(path)?;
    lock(&file, libc::LOCK_EX)?;
    let bytes = fs::read(path)?;
    Ok(parse_lines(&bytes))
}

/// Every line of a spool file, also the live one (for local reports); no locking.
pub fn read_any(path: &Path) -> io::Result<Lines> {
    Ok(parse_lines(&fs::read(path)?))
}

fn parse_lines(bytes: &[u8]) -> Lines {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut rest = bytes;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let (line, complete) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(v @ serde_json::Value::Object(_)) if complete => good.push((n, v)),
            _ => bad.push(n),
        }
    }
    Lines { good, bad }
}

/// Lines and bytes waiting in the spool.
pub fn pending(dir: &Path) -> (usize, u64) {
    let mut files = segments(dir).unwrap_or_default();
    files.push(dir.join(CURRENT));
    files
        .iter()
        .filter_map(|p| fs::read(p).ok())
        .fold((0, 0), |(lines, bytes), b| {
            (
                // Blank lines (from a writer that found a torn tail) are not events.
                lines
                    + b.split(|c| *c == b'\n')
                        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                        .count(),
                bytes + b.len() as u64,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_rotate_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), br#"{"a":1}"#).unwrap();
        append(dir.path(), br#"{"a":2}"#).unwrap();
        // A crash mid-write: half a line and no newline.
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(CURRENT))
            .unwrap()
            .write_all(br#"{"a":"#)
            .unwrap();
        // A writer after the crash starts a fresh line instead of gluing onto the torn one.
        append(dir.path(), br#"{"a":4}"#).unwrap();
        let segs = rotate(dir.path()).unwrap();
        assert_eq!(segs.len(), 1);
        // Writers carry on in a fresh file.
        append(dir.path(), br#"{"a":3}"#).unwrap();
        let lines = read_segment(&segs[0]).unwrap();
        assert_eq!(lines.good.len(), 3);
        assert_eq!(lines.bad, vec![3]);
        assert_eq!(pending(dir.path()).0, 5); // a1, a2, the torn line, a4, a3
        assert_eq!(rotate(dir.path()).unwrap().len(), 2);
    }

    #[test]
    fn sync_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sync.lock");
        let held = try_lock(&p).unwrap();
        assert!(held.is_some());
        assert!(try_lock(&p).unwrap().is_none());
        drop(held);
        assert!(try_lock(&p).unwrap().is_some());
    }
}
