//! `devpulse setup`: points Claude Code at devpulse by editing one of its settings files
//! (`~/.claude/settings.json`, `<project>/.claude/settings.json` or
//! `<project>/.claude/settings.local.json`), and takes exactly that back.
//!
//! # How an installation is recorded
//!
//! Everything we add is listed in the same file, in one env entry, `env.DEVPULSE_SETUP`, whose
//! value is a small JSON document: the hook command we wrote and the events we added it to, the
//! env variables we set with a fingerprint of the values we set (a SHA-256 prefix: the record must
//! not repeat the API key), and the containers we created (as JSON pointers; `""` is the file
//! itself). [`uninstall`] removes exactly that: handlers whose `command` equals
//! the recorded one under the recorded events, wherever they sit (even if someone moved them into
//! another matcher group), env keys still holding the value we set, then the containers we created
//! if they are empty, then the record. A file we created is deleted once nothing else is left in
//! it (its `.claude` directory stays); otherwise it stays, possibly as `{}`.
//!
//! Why an env entry rather than a top-level `"devpulse"` object: Claude Code validates its settings
//! files, and versions have rejected a file with an unrecognised top-level key *as a whole*
//! (1.0.51: "Unrecognized fields"), silently dropping the user's hooks and permissions with it;
//! `env` is a string-to-string record every version accepts. Why not recognise any command ending
//! in `devpulse hook`: uninstall must not remove a handler the user wrote themselves, and the
//! recorded command still finds ours after the binary moved, since the file holds the old path.
//! Installing again with another command rewrites our recorded handlers in place.
//!
//! # How files are written
//!
//! The file is edited as a JSON value that keeps members in file order (a small ordered [`Json`]
//! type here, so serde_json's `preserve_order` feature is not needed: feature unification would
//! turn it on for every crate built with the collector and change `Value`'s key order, hence the
//! server's content hashes). It is written pretty-printed (2 spaces) to a temporary file that is
//! then renamed over the original (through a symlink, to its target), keeping the file's
//! permissions, except that a file holding the API key (OTEL mode) loses those of group and
//! others; a new file gets 0600. Before the first change to an
//! existing file, its original bytes are kept in `<file>.devpulse-backup` unless that exists;
//! uninstall leaves the backup alone. Nothing is written when nothing would change.

use std::{
    collections::BTreeMap,
    fmt, fs,
    io::{self, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use serde::{de, Deserialize, Serialize};

/// Every hook event devpulse listens to: the 2025 set, then the 2026 additions.
///
/// Claude Code versions that predate an event reject the *whole* settings file ("Invalid key in
/// record"), so a fleet with old versions should get a shorter list via [`install_hooks_for`].
pub const EVENTS: &[&str] = &[
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "Notification",
    "SubagentStart",
    "PermissionRequest",
    "PermissionDenied",
    "StopFailure",
    "PostCompact",
    "PostToolBatch",
    "TaskCreated",
    "TaskCompleted",
];

/// Events whose matcher is a tool name: ours gets `"*"`. The others get no matcher, which matches
/// every occurrence (their matchers filter on a source, reason or agent type).
const TOOL_EVENTS: &[&str] = &[
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "PermissionDenied",
];

/// The env entry holding the installation record.
const RECORD: &str = "DEVPULSE_SETUP";
/// The OTEL variable carrying the API key.
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Seconds Claude Code waits for our hook; it only spools, so it needs a fraction of that.
const HOOK_TIMEOUT_SECS: u64 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// The handler's command line, e.g. `/usr/local/bin/devpulse hook`.
    pub command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{} is not valid JSON: {source}; fix it and run again", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: {what}; fix it and run again", path.display())]
    Shape { path: PathBuf, what: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// What one setup added to a settings file (see the module documentation).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Record {
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<String>,
    /// Variable → [`fingerprint`] of the value we set.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    created: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    updated: String,
}

/// Hook mode: registers `install.command` for every event in [`EVENTS`].
pub fn install_hooks(settings: &Path, install: &Install) -> Result<String, SetupError> {
    install_hooks_for(settings, install, EVENTS)
}

/// [`install_hooks`] for a chosen list of events (e.g. only those the installed Claude Code knows).
pub fn install_hooks_for(
    settings: &Path,
    install: &Install,
    events: &[&str],
) -> Result<String, SetupError> {
    let mut doc = Doc::load(settings)?;
    let mut rec = doc.start()?;
    let cmd = install.command.as_str();
    let old = rec.command.replace(cmd.to_owned());
    let (mut added, mut repointed) = (Vec::new(), 0);
    let Json::Obj(hooks) = child(&mut doc.root, "/hooks", Json::obj(), &mut rec.created) else {
        return Err(shape(&doc.path, "\"hooks\" is not an object"));
    };
    // The record holds one command: every recorded handler follows it.
    if let Some(old) = old.as_deref().filter(|&old| old != cmd) {
        for event in &rec.events {
            if let Some(Json::Arr(groups)) = hooks.get_mut(event) {
                for h in handlers(groups).filter(|h| is_command(h, old)) {
                    h.insert("command", cmd.into());
                    repointed += 1;
                }
            }
        }
    }
    for &event in events {
        let ptr = format!("/hooks/{event}");
        let Json::Arr(groups) = child(hooks, &ptr, Json::Arr(Vec::new()), &mut rec.created) else {
            return Err(shape(
                &doc.path,
                format!("\"hooks\".\"{event}\" is not an array"),
            ));
        };
        // An identical handler the user wrote themselves is theirs: it stays unrecorded.
        if !handlers(groups).any(|h| is_command(h, cmd)) {
            groups.push(group(event, cmd));
            if !rec.events.iter().any(|e| e == event) {
                rec.events.push(event.to_owned());
            }
            added.push(event);
        }
    }
    let mut done = Vec::new();
    if !added.is_empty() {
        done.push(format!("added `{cmd}` for {}", added.join(", ")));
    }
    if repointed > 0 {
        done.push(format!("pointed {repointed} devpulse hook(s) at `{cmd}`"));
    }
    doc.commit(&mut rec, done)
}

/// OTEL mode: sets the variables of [`otel_exports`] in the settings' `env`.
///
/// All or nothing: if the user already set one of them to something else (their own collector,
/// say), nothing is written and the conflicts are reported, as a partial setup could send our key
/// to their endpoint or theirs to ours.
pub fn install_otel(settings: &Path, server: &str, key: &str) -> Result<String, SetupError> {
    let mut doc = Doc::load(settings)?;
    let mut rec = doc.start()?;
    let Json::Obj(env) = child(&mut doc.root, "/env", Json::obj(), &mut rec.created) else {
        return Err(shape(&doc.path, "\"env\" is not an object"));
    };
    let (mut set, mut conflicts) = (Vec::new(), Vec::new());
    for (k, v) in otel_vars(server, key) {
        match env.get(k) {
            Some(Json::Str(cur)) if *cur == v => {}
            Some(Json::Str(cur)) if rec.env.get(k) == Some(&fingerprint(cur)) => set.push((k, v)),
            Some(_) if k.ends_with("HEADERS") => conflicts.push(format!("{k} (value hidden)")),
            Some(cur) => conflicts.push(format!("{k} = {}", to_json(cur))),
            None => set.push((k, v)),
        }
    }
    if !conflicts.is_empty() {
        return Ok(format!(
            "{}: nothing changed: the user's settings already set {}; devpulse needs its own \
             values for all of them (remove those entries, or use hook mode)",
            doc.path.display(),
            conflicts.join(", ")
        ));
    }
    let names: Vec<_> = set.iter().map(|(k, _)| *k).collect();
    for (k, v) in set {
        env.insert(k, v.as_str().into());
        rec.env.insert(k.to_owned(), fingerprint(&v));
    }
    let done = if names.is_empty() {
        vec![]
    } else {
        vec![format!("set {}", names.join(", "))]
    };
    doc.commit(&mut rec, done)
}

/// The OTEL variables as `export K=V` lines for a POSIX shell.
pub fn otel_exports(server: &str, key: &str) -> String {
    otel_vars(server, key)
        .into_iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(&v)))
        .collect()
}

/// Removes what the recorded setups added (see the module documentation).
pub fn uninstall(settings: &Path) -> Result<String, SetupError> {
    let mut doc = Doc::load(settings)?;
    let Some(rec) = doc.record()? else {
        return Ok(format!(
            "{}: no devpulse setup recorded; nothing changed",
            doc.path.display()
        ));
    };
    let mut removed = 0;
    if let (Some(cmd), Some(Json::Obj(hooks))) = (&rec.command, doc.root.get_mut("hooks")) {
        for event in &rec.events {
            if let Some(Json::Arr(groups)) = hooks.get_mut(event) {
                removed += remove_handlers(groups, cmd);
            }
        }
    }
    let (mut unset, mut kept) = (Vec::new(), Vec::new());
    if let Some(Json::Obj(env)) = doc.root.get_mut("env") {
        for (k, v) in &rec.env {
            match env.get(k) {
                Some(Json::Str(cur)) if fingerprint(cur) == *v => {
                    env.remove(k);
                    unset.push(k.as_str());
                }
                Some(_) => kept.push(k.as_str()),
                None => {}
            }
        }
        env.remove(RECORD);
    }
    for ptr in rec.created.iter().rev() {
        remove_if_empty(&mut doc.root, ptr);
    }
    let mut done = Vec::new();
    if rec.command.is_some() {
        done.push(format!("removed {removed} devpulse hook handler(s)"));
    }
    if !unset.is_empty() {
        done.push(format!("unset {}", unset.join(", ")));
    }
    if !kept.is_empty() {
        done.push(format!("left {} (changed since setup)", kept.join(", ")));
    }
    if rec.created.iter().any(String::is_empty) && doc.root.0.is_empty() {
        fs::remove_file(&doc.path).map_err(io_error(&doc.path))?;
        done.push("deleted the file (devpulse created it)".into());
    } else {
        doc.write(&rec)?;
    }
    Ok(format!("{}: {}", doc.path.display(), done.join("; ")))
}

/// `<home>/.claude/settings.json`, or `<project>/.claude/settings.json` for a project.
pub fn default_settings_path(home: &Path, project: Option<&Path>) -> PathBuf {
    project
        .unwrap_or(home)
        .join(".claude")
        .join("settings.json")
}

/// `<project>/.claude/settings.local.json`: the project's settings for this user alone, kept out
/// of version control (unlike `settings.json`, which a team usually commits).
pub fn local_settings_path(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.local.json")
}

fn otel_vars(server: &str, key: &str) -> [(&'static str, String); 6] {
    [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".into()),
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_LOGS_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
        // Claude Code appends `/v1/metrics` and `/v1/logs`, which the server serves at its root.
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            server.trim_end_matches('/').into(),
        ),
        (HEADERS, format!("Authorization=Bearer {key}")),
    ]
}

fn fingerprint(value: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(value.as_bytes())[..8])
}

fn shell_quote(v: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"_-./:=,@%+".contains(&b);
    if !v.is_empty() && v.bytes().all(plain) {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// Our matcher group for `event`.
fn group(event: &str, cmd: &str) -> Json {
    let handler = Obj(vec![
        ("type".into(), "command".into()),
        ("command".into(), cmd.into()),
        ("timeout".into(), Json::Num(HOOK_TIMEOUT_SECS.into())),
    ]);
    let mut group = Obj::default();
    if TOOL_EVENTS.contains(&event) {
        group.insert("matcher", "*".into());
    }
    group.insert("hooks", Json::Arr(vec![Json::Obj(handler)]));
    Json::Obj(group)
}

/// Every handler object in an event's matcher groups.
fn handlers(groups: &mut [Json]) -> impl Iterator<Item = &mut Obj> {
    groups
        .iter_mut()
        .filter_map(|g| match g.as_obj_mut()?.get_mut("hooks")? {
            Json::Arr(hs) => Some(hs),
            _ => None,
        })
        .flatten()
        .filter_map(Json::as_obj_mut)
}

fn is_command(handler: &Obj, cmd: &str) -> bool {
    let field = |k| match handler.get(k) {
        Some(Json::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    field("type") == Some("command") && field("command") == Some(cmd)
}

/// Removes `cmd` handlers, and the groups that held nothing else. Returns how many went.
fn remove_handlers(groups: &mut Vec<Json>, cmd: &str) -> usize {
    let mut removed = 0;
    groups.retain_mut(|g| {
        let Some(Json::Arr(hs)) = g.as_obj_mut().and_then(|g| g.get_mut("hooks")) else {
            return true;
        };
        let before = hs.len();
        hs.retain(|h| !matches!(h, Json::Obj(h) if is_command(h, cmd)));
        removed += before - hs.len();
        before == 0 || !hs.is_empty()
    });
    removed
}

/// `parent[key]` for the pointer `ptr` ending in `/key`; absent, it becomes `empty` and `ptr` is
/// recorded as created by us.
fn child<'a>(
    parent: &'a mut Obj,
    ptr: &str,
    empty: Json,
    created: &mut Vec<String>,
) -> &'a mut Json {
    let key = ptr.rsplit('/').next().unwrap_or(ptr);
    if parent.get(key).is_none() {
        parent.insert(key, empty);
        if !created.iter().any(|c| c == ptr) {
            created.push(ptr.to_owned());
        }
    }
    parent.get_mut(key).expect("just inserted")
}

/// Removes the object or array at the JSON pointer `ptr` (keys without `/` or `~`) if empty.
fn remove_if_empty(root: &mut Obj, ptr: &str) {
    let mut keys: Vec<_> = ptr.split('/').skip(1).collect();
    let Some(last) = keys.pop() else { return };
    let mut obj = root;
    for k in keys {
        match obj.get_mut(k) {
            Some(Json::Obj(o)) => obj = o,
            _ => return,
        }
    }
    match obj.get(last) {
        Some(Json::Obj(Obj(v))) if v.is_empty() => obj.remove(last),
        Some(Json::Arr(v)) if v.is_empty() => obj.remove(last),
        _ => {}
    }
}

fn shape(path: &Path, what: impl Into<String>) -> SetupError {
    SetupError::Shape {
        path: path.to_owned(),
        what: what.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A settings file being edited.
struct Doc {
    path: PathBuf,
    /// The bytes read, `None` if there was no file.
    original: Option<Vec<u8>>,
    before: Obj,
    root: Obj,
    backup: Option<PathBuf>,
}

impl Doc {
    fn load(path: &Path) -> Result<Doc, SetupError> {
        let original = match fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(path)(e)),
        };
        let root = match original.as_deref() {
            Some(bytes) if !bytes.trim_ascii().is_empty() => {
                match serde_json::from_slice(bytes).map_err(|source| SetupError::Json {
                    path: path.to_owned(),
                    source,
                })? {
                    Json::Obj(root) => root,
                    _ => return Err(shape(path, "the top level is not a JSON object")),
                }
            }
            _ => Obj::default(),
        };
        let before = root.clone();
        Ok(Doc {
            path: path.to_owned(),
            original,
            before,
            root,
            backup: None,
        })
    }

    fn record(&self) -> Result<Option<Record>, SetupError> {
        match self
            .root
            .get("env")
            .and_then(|env| env.as_obj()?.get(RECORD))
        {
            None => Ok(None),
            Some(Json::Str(s)) => serde_json::from_str(s).map(Some).map_err(|e| {
                shape(
                    &self.path,
                    format!("\"env\".\"{RECORD}\" is not a devpulse record ({e})"),
                )
            }),
            Some(_) => Err(shape(
                &self.path,
                format!("\"env\".\"{RECORD}\" is not a string"),
            )),
        }
    }

    /// The record an install extends.
    fn start(&self) -> Result<Record, SetupError> {
        let mut rec = self.record()?.unwrap_or_default();
        if self.original.is_none() {
            rec.created.push(String::new());
        }
        Ok(rec)
    }

    /// Stores `rec` and writes the file if that changes anything; describes the outcome.
    fn commit(&mut self, rec: &mut Record, done: Vec<String>) -> Result<String, SetupError> {
        self.put(rec)?;
        if self.root == self.before {
            return Ok(format!(
                "{}: already set up; nothing changed",
                self.path.display()
            ));
        }
        rec.updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.put(rec)?;
        self.write(rec)?;
        let mut text = format!("{}: {}", self.path.display(), done.join("; "));
        if let Some(backup) = &self.backup {
            text += &format!(" (original kept as {})", backup.display());
        }
        Ok(text)
    }

    fn put(&mut self, rec: &mut Record) -> Result<(), SetupError> {
        if rec.events.is_empty() {
            rec.command = None;
        }
        if rec.events.is_empty() && rec.env.is_empty() {
            if let Some(Json::Obj(env)) = self.root.get_mut("env") {
                env.remove(RECORD);
            }
            return Ok(());
        }
        let Json::Obj(env) = child(&mut self.root, "/env", Json::obj(), &mut rec.created) else {
            return Err(shape(&self.path, "\"env\" is not an object"));
        };
        env.insert(RECORD, to_json(rec).as_str().into());
        Ok(())
    }

    /// Writes `root` atomically, first keeping a backup of a file devpulse did not create.
    fn write(&mut self, rec: &Record) -> Result<(), SetupError> {
        let ours = rec.created.iter().any(String::is_empty);
        if let Some(bytes) = self.original.as_ref().filter(|_| !ours) {
            let backup = suffixed(&self.path, ".devpulse-backup");
            match private().create_new(true).open(&backup) {
                Ok(mut f) => {
                    f.write_all(bytes)
                        .and_then(|()| f.sync_all())
                        .map_err(io_error(&backup))?;
                    self.backup = Some(backup);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&backup)(e)),
            }
        }
        let target = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        let tmp = suffixed(&target, ".devpulse-tmp");
        let text = to_json_pretty(&self.root) + "\n";
        let _ = fs::remove_file(&tmp);
        let holds_key = rec.env.contains_key(HEADERS);
        let written = private().create_new(true).open(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            if let Ok(meta) = fs::metadata(&target) {
                let mut perms = meta.permissions();
                if holds_key {
                    use std::os::unix::fs::PermissionsExt;
                    perms.set_mode(perms.mode() & 0o700);
                }
                f.set_permissions(perms)?;
            }
            f.sync_all()
        });
        written
            .and_then(|()| fs::rename(&tmp, &target))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                io_error(&target)(e)
            })
    }
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("serialises")
}

fn to_json_pretty(v: &impl Serialize) -> String {
    serde_json::to_string_pretty(v).expect("serialises")
}

fn private() -> fs::OpenOptions {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    opts
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// A JSON value whose objects keep their members in file order (duplicates included).
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Obj),
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Obj(Vec<(String, Json)>);

impl Json {
    fn obj() -> Json {
        Json::Obj(Obj::default())
    }
    fn as_obj(&self) -> Option<&Obj> {
        match self {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }
    fn as_obj_mut(&mut self) -> Option<&mut Obj> {
        match self {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}

/// Lookups see the last of duplicate keys, as JavaScript's `JSON.parse` (Claude Code) does.
impl Obj {
    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().rposition(|(k, _)| k == key)
    }
    fn get(&self, key: &str) -> Option<&Json> {
        self.position(key).map(|i| &self.0[i].1)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.position(key).map(|i| &mut self.0[i].1)
    }
    /// Replaces the value in place, or appends the member.
    fn insert(&mut self, key: &str, value: Json) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
    fn remove(&mut self, key: &str) {
        if let Some(i) = self.position(key) {
            self.0.remove(i);
        }
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Num(n) => n.serialize(s),
            Json::Str(v) => s.serialize_str(v),
            Json::Arr(a) => s.collect_seq(a),
            Json::Obj(o) => o.serialize(s),
        }
    }
}

impl Serialize for Obj {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Num)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
                Ok(s.into())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Arr(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Json::Obj(Obj(members)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = r#"{
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "permissions": { "allow": ["Bash(cargo test:*)"], "deny": [] },
    "env": { "FOO": "bar", "CLAUDE_CODE_ENABLE_TELEMETRY": "1", "ANTHROPIC_MODEL": "opus" },
    "hooks": {
        "PreToolUse": [
            { "matcher": "Bash", "hooks": [{ "type": "command", "command": "guard check" }] },
            { "matcher": "*", "hooks": [{ "type": "command", "command": "log-tool", "timeout": 30 }] }
        ],
        "Stop": []
    },
    "zFuture": { "b": [1, 2.5, null, true], "a": "unknown keys stay, in order" },
    "alpha": 1
}"#;

    fn parse(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    fn read(path: &Path) -> Json {
        parse(&fs::read_to_string(path).unwrap())
    }

    fn dir_with(contents: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        fs::write(&path, contents).unwrap();
        (dir, path)
    }

    fn install(cmd: &str) -> Install {
        Install {
            command: cmd.into(),
        }
    }

    fn at<'a>(v: &'a Json, keys: &[&str]) -> &'a Json {
        keys.iter()
            .fold(v, |v, k| v.as_obj().and_then(|o| o.get(k)).unwrap())
    }

    fn at_mut<'a>(v: &'a mut Json, keys: &[&str]) -> &'a mut Json {
        keys.iter()
            .fold(v, |v, k| v.as_obj_mut().and_then(|o| o.get_mut(k)).unwrap())
    }

    fn commands(v: &Json, event: &str) -> Vec<String> {
        let Json::Arr(mut groups) = at(v, &["hooks", event]).clone() else {
            panic!("{event}")
        };
        handlers(&mut groups)
            .filter_map(|h| match h.get("command") {
                Some(Json::Str(c)) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hooks_install_twice_then_uninstall_restores_the_original() {
        let (_dir, path) = dir_with(ORIGINAL);
        let cmd = "/usr/local/bin/devpulse hook";
        let said = install_hooks(&path, &install(cmd)).unwrap();
        assert!(
            said.contains("added") && said.contains("devpulse-backup"),
            "{said}"
        );
        assert_eq!(
            fs::read(suffixed(&path, ".devpulse-backup")).unwrap(),
            ORIGINAL.as_bytes()
        );

        let installed = read(&path);
        for event in EVENTS {
            assert_eq!(
                commands(&installed, event)
                    .iter()
                    .filter(|c| *c == cmd)
                    .count(),
                1
            );
        }
        // The other tool's groups are untouched and still come first; ours is appended.
        let Json::Arr(pre) = at(&installed, &["hooks", "PreToolUse"]) else {
            panic!()
        };
        let Json::Arr(orig_pre) = at(&parse(ORIGINAL), &["hooks", "PreToolUse"]).clone() else {
            panic!()
        };
        assert_eq!(pre[..2], orig_pre[..]);
        assert_eq!(at(&pre[2], &["matcher"]), &Json::from("*"));
        assert_eq!(commands(&installed, "Stop"), [cmd]);
        let Json::Obj(top) = &installed else { panic!() };
        let Json::Obj(orig) = parse(ORIGINAL) else {
            panic!()
        };
        for (k, v) in &orig.0 {
            if k != "hooks" && k != "env" {
                assert_eq!(top.get(k), Some(v), "{k}");
            }
        }
        let keys = |o: &Obj| o.0.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(top), keys(&orig));

        let bytes = fs::read(&path).unwrap();
        let said = install_hooks(&path, &install(cmd)).unwrap();
        assert!(said.contains("nothing changed"), "{said}");
        assert_eq!(fs::read(&path).unwrap(), bytes);

        let said = uninstall(&path).unwrap();
        assert!(
            said.contains(&format!("removed {} devpulse", EVENTS.len())),
            "{said}"
        );
        let restored = fs::read_to_string(&path).unwrap();
        assert_eq!(parse(&restored), parse(ORIGINAL)); // order-sensitive
        let value = |t| serde_json::from_str::<serde_json::Value>(t).unwrap();
        assert_eq!(value(&restored), value(ORIGINAL));
        // Member order, checked on the text (not through our own parser).
        let needles = [
            "$schema",
            "permissions",
            "FOO",
            "CLAUDE_CODE",
            "ANTHROPIC",
            "hooks",
        ];
        let more = [
            "PreToolUse",
            "\"Bash\"",
            "\"*\"",
            "Stop",
            "zFuture",
            "\"b\"",
            "\"a\"",
            "alpha",
        ];
        let order = |t: &str| -> Vec<usize> {
            needles
                .iter()
                .chain(&more)
                .map(|k| t.find(k).unwrap())
                .collect()
        };
        assert!(order(&restored).is_sorted(), "{restored}");
        assert!(order(ORIGINAL).is_sorted());
        assert_eq!(
            fs::read(suffixed(&path, ".devpulse-backup")).unwrap(),
            ORIGINAL.as_bytes()
        );
        assert!(uninstall(&path).unwrap().contains("nothing changed"));
    }

    #[test]
    fn uninstall_finds_our_handler_moved_into_another_group_and_leaves_its_neighbours() {
        let (_dir, path) = dir_with(ORIGINAL);
        install_hooks(&path, &install("devpulse hook")).unwrap();
        // Someone merges our PreToolUse handler into the other tool's "*" group.
        let mut v = read(&path);
        let Json::Arr(groups) = at_mut(&mut v, &["hooks", "PreToolUse"]) else {
            panic!()
        };
        let ours = groups.pop().unwrap();
        let (Json::Arr(star), Json::Arr(mine)) =
            (at_mut(&mut groups[1], &["hooks"]), at(&ours, &["hooks"]))
        else {
            panic!()
        };
        star.extend(mine.iter().cloned());
        fs::write(&path, to_json_pretty(&v)).unwrap();

        uninstall(&path).unwrap();
        assert_eq!(read(&path), parse(ORIGINAL));
    }

    #[test]
    fn reinstalling_with_another_command_repoints_our_handlers_only() {
        let (_dir, path) = dir_with(ORIGINAL);
        install_hooks(&path, &install("/old/devpulse hook")).unwrap();
        let said = install_hooks_for(&path, &install("/new/devpulse hook"), &["Stop"]).unwrap();
        assert!(
            said.contains(&format!("pointed {}", EVENTS.len())),
            "{said}"
        );
        let v = read(&path);
        assert_eq!(
            commands(&v, "PreToolUse"),
            ["guard check", "log-tool", "/new/devpulse hook"]
        );
        uninstall(&path).unwrap();
        assert_eq!(read(&path), parse(ORIGINAL));
    }

    #[test]
    fn a_handler_the_user_wrote_themselves_survives_uninstall() {
        let mine = r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "devpulse hook"}]}]}}"#;
        let (_dir, path) = dir_with(mine);
        install_hooks(&path, &install("devpulse hook")).unwrap();
        assert_eq!(commands(&read(&path), "Stop"), ["devpulse hook"]);
        uninstall(&path).unwrap();
        assert_eq!(read(&path), parse(mine));
    }

    #[test]
    fn otel_install_then_uninstall_restores_and_keeps_the_users_values() {
        let (_dir, path) = dir_with(ORIGINAL);
        let said = install_otel(&path, "https://dp.example/", "k3y").unwrap();
        assert!(said.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{said}");
        assert!(
            !said.contains("CLAUDE_CODE_ENABLE_TELEMETRY"),
            "already 1: {said}"
        );
        let v = read(&path);
        let env = |k| at(&v, &["env", k]).clone();
        assert_eq!(
            env("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Json::from("https://dp.example")
        );
        assert_eq!(
            env("OTEL_EXPORTER_OTLP_HEADERS"),
            Json::from("Authorization=Bearer k3y")
        );
        assert_eq!(
            env("OTEL_EXPORTER_OTLP_PROTOCOL"),
            Json::from("http/protobuf")
        );
        assert_eq!(env("FOO"), Json::from("bar"));
        assert_eq!(
            fs::read_to_string(&path).unwrap().matches("k3y").count(),
            1,
            "key repeated"
        );
        assert!(install_otel(&path, "https://dp.example", "k3y")
            .unwrap()
            .contains("nothing"));
        // Our own older values are updated, not conflicts.
        let said = install_otel(&path, "https://dp2.example", "k3y").unwrap();
        assert!(said.ends_with("set OTEL_EXPORTER_OTLP_ENDPOINT"), "{said}");

        install_hooks(&path, &install("devpulse hook")).unwrap();
        let said = uninstall(&path).unwrap();
        assert!(
            said.contains("unset") && !said.contains("CLAUDE_CODE_ENABLE"),
            "{said}"
        );
        assert_eq!(read(&path), parse(ORIGINAL));
    }

    #[test]
    fn otel_conflicts_are_reported_and_nothing_is_written() {
        let theirs = r#"{"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.corp:4318"}}"#;
        let (_dir, path) = dir_with(theirs);
        let said = install_otel(&path, "https://dp.example", "k3y").unwrap();
        assert!(
            said.contains("OTEL_EXPORTER_OTLP_ENDPOINT = \"https://otel.corp:4318\""),
            "{said}"
        );
        assert!(!said.contains("k3y"));
        assert_eq!(fs::read_to_string(&path).unwrap(), theirs);
        assert!(!suffixed(&path, ".devpulse-backup").exists());
    }

    #[test]
    fn a_value_changed_after_setup_is_left_by_uninstall() {
        let (_dir, path) = dir_with("{}");
        install_otel(&path, "https://dp.example", "k3y").unwrap();
        let mut v = read(&path);
        let env = v
            .as_obj_mut()
            .unwrap()
            .get_mut("env")
            .unwrap()
            .as_obj_mut()
            .unwrap();
        env.insert("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x".into());
        fs::write(&path, to_json_pretty(&v)).unwrap();
        assert!(uninstall(&path)
            .unwrap()
            .contains("left OTEL_EXPORTER_OTLP_ENDPOINT"));
        let expected = r#"{"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://x"}}"#;
        assert_eq!(read(&path), parse(expected));
    }

    #[test]
    fn a_missing_file_is_created_and_deleted_again_if_nothing_else_was_added() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_settings_path(dir.path(), None);
        install_hooks(&path, &install("devpulse hook")).unwrap();
        install_otel(&path, "https://dp.example", "k3y").unwrap();
        let v = read(&path);
        assert_eq!(commands(&v, "SessionStart"), ["devpulse hook"]);
        assert!(!suffixed(&path, ".devpulse-backup").exists());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(uninstall(&path).unwrap().contains("deleted the file"));
        assert!(!path.exists() && path.parent().unwrap().exists());

        // With something of the user's added meanwhile, the file stays with just that.
        install_hooks(&path, &install("devpulse hook")).unwrap();
        let text = fs::read_to_string(&path)
            .unwrap()
            .replacen('{', r#"{"model": "opus","#, 1);
        fs::write(&path, text).unwrap();
        uninstall(&path).unwrap();
        assert_eq!(read(&path), parse(r#"{"model": "opus"}"#));
    }

    #[test]
    fn a_file_that_holds_the_key_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (_dir, path) = dir_with(ORIGINAL);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        // Hooks hold no secret: the file keeps the mode its owner gave it.
        install_hooks(&path, &install("devpulse hook")).unwrap();
        assert_eq!(mode(&path), 0o644);
        install_otel(&path, "https://dp.example", "k3y").unwrap();
        assert_eq!(mode(&path), 0o600);
        // Written again for the hooks, it still holds the key.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        install_hooks(&path, &install("/new/devpulse hook")).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_file_and_changes_nothing() {
        let bad = "{\n  \"hooks\": {,}\n}";
        let (_dir, path) = dir_with(bad);
        for result in [
            install_hooks(&path, &install("devpulse hook")),
            install_otel(&path, "https://dp.example", "k"),
            uninstall(&path),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, SetupError::Json { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains(&path.display().to_string()) && text.contains("line 2"),
                "{text}"
            );
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), bad);
        assert!(!suffixed(&path, ".devpulse-backup").exists());

        fs::write(&path, r#"{"hooks": []}"#).unwrap();
        let err = install_hooks(&path, &install("devpulse hook")).unwrap_err();
        assert!(matches!(err, SetupError::Shape { .. }), "{err}");
    }

    #[test]
    fn a_symlinked_settings_file_stays_a_symlink() {
        let (dir, target) = dir_with(ORIGINAL);
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        install_hooks(&link, &install("devpulse hook")).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(commands(&read(&target), "Stop"), ["devpulse hook"]);
    }

    #[test]
    fn exports_and_paths() {
        assert_eq!(
            otel_exports("https://dp.example/", "it's"),
            "export CLAUDE_CODE_ENABLE_TELEMETRY=1\n\
             export OTEL_METRICS_EXPORTER=otlp\n\
             export OTEL_LOGS_EXPORTER=otlp\n\
             export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n\
             export OTEL_EXPORTER_OTLP_ENDPOINT=https://dp.example\n\
             export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer it'\\''s'\n"
        );
        let home = Path::new("/home/ana");
        assert_eq!(
            default_settings_path(home, None),
            home.join(".claude/settings.json")
        );
        let project = Path::new("/src/shop");
        assert_eq!(
            default_settings_path(home, Some(project)),
            project.join(".claude/settings.json")
        );
    }
}
