//! PDFs by headless Chromium's print-to-PDF: the print view is written to a private
//! directory with the ECharts script beside it, and Chromium prints it with no network at
//! all (every host name resolves to nothing), so a report can load nothing it did not bring.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use tokio::sync::Semaphore;

/// How long one print may take before it is abandoned.
const DEADLINE: Duration = Duration::from_secs(60);

/// Prints at once per instance: each is a browser process of ~150 MiB.
const AT_ONCE: usize = 2;

/// Makes PDFs, when a Chromium is installed.
#[derive(Clone)]
pub struct Printer {
    chromium: Option<PathBuf>,
    echarts: PathBuf,
    gate: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PrintError(pub String);

impl Printer {
    /// `chromium`: the configured browser (`DEVPULSE_CHROMIUM`), else the first of the
    /// usual names on `PATH`. The ECharts script comes from the site's own files.
    pub fn new(chromium: Option<&str>, site_root: &Path) -> Printer {
        let chromium = match chromium.filter(|c| !c.trim().is_empty()) {
            Some(c) => Some(PathBuf::from(c)),
            None => ["chromium", "chromium-browser", "google-chrome", "chrome"]
                .iter()
                .find_map(|name| on_path(name)),
        };
        // Absolute: the print reads it from a directory of its own.
        let echarts = site_root.join("echarts.min.js");
        let echarts = std::fs::canonicalize(&echarts).unwrap_or(echarts);
        Printer {
            chromium,
            echarts,
            gate: Arc::new(Semaphore::new(AT_ONCE)),
        }
    }

    /// Whether PDFs can be made here (the browser's path, for the status page).
    pub fn browser(&self) -> Option<&Path> {
        self.chromium.as_deref()
    }

    /// `html` (a page that names its script `echarts.min.js`, beside it) as a PDF.
    pub async fn pdf(&self, html: &str) -> Result<Vec<u8>, PrintError> {
        let chromium = self.chromium.as_ref().ok_or_else(|| {
            PrintError(
                "no Chromium is installed for PDFs (install it, or set DEVPULSE_CHROMIUM)".into(),
            )
        })?;
        if !self.echarts.is_file() {
            // Without it every chart would print as an empty box, and nobody would know why.
            return Err(PrintError(format!(
                "the chart script {} is missing (is the site built?)",
                self.echarts.display()
            )));
        }
        let _turn = self
            .gate
            .acquire()
            .await
            .map_err(|_| PrintError("the printer is shutting down".into()))?;
        let dir = tempfile::Builder::new()
            .prefix("devpulse-print-")
            .tempdir()
            .map_err(|e| PrintError(format!("a directory for the print: {e}")))?;
        let page = dir.path().join("report.html");
        let out = dir.path().join("report.pdf");
        tokio::fs::write(&page, html)
            .await
            .map_err(|e| PrintError(format!("writing the print view: {e}")))?;
        if tokio::fs::symlink(&self.echarts, dir.path().join("echarts.min.js"))
            .await
            .is_err()
        {
            tokio::fs::copy(&self.echarts, dir.path().join("echarts.min.js"))
                .await
                .map_err(|e| {
                    PrintError(format!("the chart script {}: {e}", self.echarts.display()))
                })?;
        }
        let mut child = tokio::process::Command::new(chromium)
            .arg("--headless")
            // Inside containers the browser's sandbox needs privileges they rarely grant; the
            // page is our own, escaped, and reaches no network.
            .arg("--no-sandbox")
            .args([
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-crash-reporter",
                "--no-first-run",
                "--no-pdf-header-footer",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--run-all-compositor-stages-before-draw",
                // Wider than the page's 273 mm, so the layout the charts measure is the
                // printed one.
                "--window-size=1280,900",
                // Time for the charts' script to run before the page is printed.
                "--virtual-time-budget=10000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!("--print-to-pdf={}", out.display()))
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a print that overruns is ended with every helper
            // process it started (killing the browser alone leaves them behind).
            .process_group(0)
            .spawn()
            .map_err(|e| PrintError(format!("starting {}: {e}", chromium.display())))?;
        let group = child.id();
        let mut stderr = child.stderr.take();
        let said = tokio::spawn(async move {
            let mut text = String::new();
            if let Some(s) = stderr.as_mut() {
                let _ = tokio::io::AsyncReadExt::read_to_string(s, &mut text).await;
            }
            text
        });
        let status = match tokio::time::timeout(DEADLINE, child.wait()).await {
            Ok(status) => status.map_err(|e| PrintError(format!("Chromium: {e}")))?,
            Err(_) => {
                if let Some(pid) = group {
                    // SAFETY: a plain syscall on the process group this print started.
                    unsafe { libc::killpg(pid as libc::pid_t, libc::SIGKILL) };
                }
                let _ = child.wait().await;
                return Err(PrintError(format!(
                    "Chromium took over {}s",
                    DEADLINE.as_secs()
                )));
            }
        };
        let pdf = tokio::fs::read(&out).await.unwrap_or_default();
        if !status.success() || !pdf.starts_with(b"%PDF-") {
            let said = said.await.unwrap_or_default();
            let last = said
                .lines()
                .rfind(|l| !l.contains("dbus"))
                .unwrap_or("")
                .trim();
            return Err(PrintError(format!(
                "Chromium made no PDF ({status}): {last}"
            )));
        }
        Ok(pdf)
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
