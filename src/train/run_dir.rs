//! A run folder, `runs/<name or UTC timestamp>/`, holding everything a training run
//! produces: `config.json` (configuration + environment), the history, checkpoints,
//! plots and the final reports. Every file is written atomically.

use super::atomic::write_atomic;
use super::metrics::{ClassReport, ConfusionMatrix};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where and how a run was made: enough to reproduce or question a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub melgrad_version: String,
    /// `git rev-parse HEAD` of the source tree melgrad was built from, if reachable.
    pub git_commit: Option<String>,
    /// Uncommitted changes to tracked files in that tree.
    pub git_dirty: Option<bool>,
    pub os: String,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os_release: Option<String>,
    pub arch: String,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    pub threads: usize,
    pub seed: u64,
    /// UTC, ISO 8601.
    pub started_at: String,
    pub command_line: Vec<String>,
}

impl Environment {
    /// Capture the environment of this process for a run with `seed`.
    pub fn capture(seed: u64) -> Self {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"));
        let git = |args: &[&str]| -> Option<String> {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(source)
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let git_commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
        let git_dirty = git_commit
            .as_ref()
            .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
            .map(|s| !s.is_empty());
        Environment {
            melgrad_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit,
            git_dirty,
            os: std::env::consts::OS.to_string(),
            os_release: std::fs::read_to_string("/etc/os-release")
                .ok()
                .and_then(|s| os_release_name(&s)),
            arch: std::env::consts::ARCH.to_string(),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|s| cpu_model(&s)),
            threads: rayon::current_num_threads(),
            seed,
            started_at: iso8601_utc(unix_now()),
            command_line: std::env::args().collect(),
        }
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

fn os_release_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_string())
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn utc_parts(unix_seconds: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (days, secs) = (unix_seconds / 86_400, unix_seconds % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// `2026-11-21T09:16:15Z`
fn iso8601_utc(unix_seconds: u64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(unix_seconds);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261121-091615`: sorts chronologically, safe in file names.
fn folder_timestamp(unix_seconds: u64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(unix_seconds);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// The folder of one training run.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Create a new run folder under `root` (created if needed): `root/<name>`, or
    /// `root/<UTC timestamp>` (with `-2`, `-3`… if taken) when `name` is `None`. A named
    /// folder that already exists is an error, so an old run is never overwritten —
    /// use [`RunDir::open`] to resume it.
    pub fn create(root: &Path, name: Option<&str>) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        if let Some(name) = name {
            check_name(name)?;
            let path = root.join(name);
            return match std::fs::create_dir(&path) {
                Ok(()) => Ok(RunDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::invalid(format!(
                        "run folder {} already exists: resume it or choose another name",
                        path.display()
                    )))
                }
                Err(e) => Err(Error::io(&path, e)),
            };
        }
        let stamp = folder_timestamp(unix_now());
        for attempt in 1..=1000 {
            let folder = if attempt == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{attempt}")
            };
            let path = root.join(folder);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::invalid(format!(
            "no free run folder name for {stamp} under {}",
            root.display()
        )))
    }

    /// An existing run folder (to resume).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "run folder not found"),
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// A file inside the run folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        write_atomic(&self.file(name), text.as_bytes())
    }

    /// Pretty-printed JSON, atomically.
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        let path = self.file(name);
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::invalid(format!("{}: cannot serialise: {e}", path.display())))?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }

    /// `config.json`: `{"config": <config>, "environment": <env>}`.
    pub fn write_config<C: Serialize + ?Sized>(&self, config: &C, env: &Environment) -> Result<()> {
        #[derive(Serialize)]
        struct ConfigFile<'a, C: ?Sized> {
            config: &'a C,
            environment: &'a Environment,
        }
        self.write_json(
            "config.json",
            &ConfigFile {
                config,
                environment: env,
            },
        )
    }

    /// Read `config.json` back: `(config, environment)`.
    pub fn read_config(&self) -> Result<(serde_json::Value, Environment)> {
        let path = self.file("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
        let config = value
            .get_mut("config")
            .map(serde_json::Value::take)
            .ok_or_else(|| Error::format(&path, "no \"config\" key"))?;
        let env = value
            .get_mut("environment")
            .map(serde_json::Value::take)
            .ok_or_else(|| Error::format(&path, "no \"environment\" key"))?;
        let env = serde_json::from_value(env)
            .map_err(|e| Error::format(&path, format!("environment: {e}")))?;
        Ok((config, env))
    }

    /// `<stem>.csv` and `<stem>.txt`: the per-class precision / recall / F1 report.
    pub fn write_class_report(
        &self,
        stem: &str,
        report: &ClassReport,
        class_names: &[&str],
    ) -> Result<()> {
        self.write_text(
            &format!("{stem}.csv"),
            &class_report_csv(report, class_names)?,
        )?;
        self.write_text(
            &format!("{stem}.txt"),
            &class_report_table(report, class_names)?,
        )
    }

    /// `<stem>.csv`: the confusion matrix with class names (row = true class).
    pub fn write_confusion_matrix(
        &self,
        stem: &str,
        matrix: &ConfusionMatrix,
        class_names: &[&str],
    ) -> Result<()> {
        self.write_text(&format!("{stem}.csv"), &confusion_csv(matrix, class_names)?)
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "run name {name:?} must be a plain folder name"
        )))
    }
}

fn check_names(n: usize, class_names: &[&str]) -> Result<()> {
    if class_names.len() != n {
        return Err(Error::invalid(format!(
            "{} class names for {n} classes",
            class_names.len()
        )));
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `class,precision,recall,f1,support` per class, then `macro avg` and `accuracy` rows.
pub fn class_report_csv(report: &ClassReport, class_names: &[&str]) -> Result<String> {
    check_names(report.per_class.len(), class_names)?;
    let mut out = String::from("class,precision,recall,f1,support\n");
    for (name, m) in class_names.iter().zip(&report.per_class) {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            csv_field(name),
            m.precision,
            m.recall,
            m.f1,
            m.support
        );
    }
    let _ = writeln!(
        out,
        "macro avg,{},{},{},{}",
        report.macro_precision, report.macro_recall, report.macro_f1, report.total
    );
    let _ = writeln!(out, "accuracy,,,{},{}", report.accuracy, report.total);
    Ok(out)
}

/// A fixed-width table in the style of scikit-learn's `classification_report`.
pub fn class_report_table(report: &ClassReport, class_names: &[&str]) -> Result<String> {
    check_names(report.per_class.len(), class_names)?;
    let width = class_names
        .iter()
        .map(|n| n.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>width$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "", "precision", "recall", "f1-score", "support"
    );
    let _ = writeln!(out);
    for (name, m) in class_names.iter().zip(&report.per_class) {
        let _ = writeln!(
            out,
            "{name:>width$}  {:>9.3}  {:>9.3}  {:>9.3}  {:>7}",
            m.precision, m.recall, m.f1, m.support
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>width$}  {:>9}  {:>9}  {:>9.3}  {:>7}",
        "accuracy", "", "", report.accuracy, report.total
    );
    let _ = writeln!(
        out,
        "{:>width$}  {:>9.3}  {:>9.3}  {:>9.3}  {:>7}",
        "macro avg", report.macro_precision, report.macro_recall, report.macro_f1, report.total
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Precision or recall with a zero denominator is reported as 0."
    );
    Ok(out)
}

/// The confusion matrix as CSV: header `true \ predicted,<names>`, one row per true class.
pub fn confusion_csv(matrix: &ConfusionMatrix, class_names: &[&str]) -> Result<String> {
    check_names(matrix.n_classes(), class_names)?;
    let mut out = String::from("true \\ predicted");
    for name in class_names {
        out.push(',');
        out.push_str(&csv_field(name));
    }
    out.push('\n');
    for (t, name) in class_names.iter().enumerate() {
        out.push_str(&csv_field(name));
        for count in matrix.row(t) {
            let _ = write!(out, ",{count}");
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(folder_timestamp(1_700_000_000), "20231114-221320");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn parses_cpuinfo_and_os_release() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor: 0\n"), None);
        let rel = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release_name(rel).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn environment_capture_is_plausible() {
        let env = Environment::capture(42);
        assert_eq!(env.seed, 42);
        assert_eq!(env.melgrad_version, env!("CARGO_PKG_VERSION"));
        assert!(env.threads >= 1);
        assert!(env.started_at.ends_with('Z') && env.started_at.len() == 20);
        if let Some(commit) = &env.git_commit {
            assert_eq!(commit.len(), 40, "{commit}");
        }
    }

    #[test]
    fn create_open_and_config_roundtrip() {
        let root = tempfile::tempdir().unwrap();
        let runs = root.path().join("runs");
        let a = RunDir::create(&runs, None).unwrap();
        let b = RunDir::create(&runs, None).unwrap();
        assert_ne!(a.path(), b.path(), "same-second runs get distinct folders");
        let named = RunDir::create(&runs, Some("kaist-seed1")).unwrap();
        assert!(RunDir::create(&runs, Some("kaist-seed1"))
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        for bad in ["", "..", "a/b", "x\ny"] {
            assert!(RunDir::create(&runs, Some(bad)).is_err(), "{bad:?}");
        }

        let env = Environment::capture(7);
        let config = serde_json::json!({"model": "kaist-cnn", "lr": 0.001, "epochs": 100});
        named.write_config(&config, &env).unwrap();
        let reopened = RunDir::open(named.path()).unwrap();
        let (config_back, env_back) = reopened.read_config().unwrap();
        assert_eq!(config_back, config);
        assert_eq!(env_back, env);
        assert!(RunDir::open(&runs.join("nope")).is_err());
        std::fs::write(named.file("config.json"), "{\"config\": 1").unwrap();
        assert!(matches!(
            named.read_config().unwrap_err(),
            Error::Format { .. }
        ));
    }

    fn report_fixture() -> (ConfusionMatrix, ClassReport) {
        let cm = ConfusionMatrix::from_predictions(
            &[0, 0, 1, 1, 2, 2, 2, 3],
            &[0, 1, 1, 1, 2, 0, 2, 0],
            4,
        )
        .unwrap();
        let report = cm.class_report().unwrap();
        (cm, report)
    }

    #[test]
    fn reports_as_csv_and_table() {
        let (cm, report) = report_fixture();
        let names = ["blues", "classical", "hip,hop", "rock"];
        let csv = class_report_csv(&report, &names).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "class,precision,recall,f1,support");
        assert_eq!(lines[1], "blues,0.3333333333333333,0.5,0.4,2");
        assert_eq!(lines[3], "\"hip,hop\",1,0.6666666666666666,0.8,3");
        assert_eq!(lines[4], "rock,0,0,0,1");
        assert_eq!(lines[5], "macro avg,0.5,0.5416666666666666,0.5,8");
        assert_eq!(lines[6], "accuracy,,,0.625,8");

        let table = class_report_table(&report, &names).unwrap();
        assert!(
            table.contains("    blues      0.333      0.500      0.400        2"),
            "{table}"
        );
        assert!(
            table.contains(" accuracy                            0.625        8"),
            "{table}"
        );
        assert!(
            table.contains("macro avg      0.500      0.542      0.500        8"),
            "{table}"
        );

        let cm_csv = confusion_csv(&cm, &names).unwrap();
        assert_eq!(
            cm_csv,
            "true \\ predicted,blues,classical,\"hip,hop\",rock\nblues,1,1,0,0\nclassical,0,2,0,0\n\"hip,hop\",1,0,2,0\nrock,1,0,0,0\n"
        );
        assert!(confusion_csv(&cm, &names[..3]).is_err());
        assert!(class_report_csv(&report, &names[..3]).is_err());
    }

    #[test]
    fn report_files_are_written() {
        let root = tempfile::tempdir().unwrap();
        let run = RunDir::create(root.path(), Some("r")).unwrap();
        let (cm, report) = report_fixture();
        let names = ["a", "b", "c", "d"];
        run.write_class_report("test_report", &report, &names)
            .unwrap();
        run.write_confusion_matrix("test_confusion", &cm, &names)
            .unwrap();
        for f in ["test_report.csv", "test_report.txt", "test_confusion.csv"] {
            assert!(run.file(f).is_file(), "{f}");
        }
        let files = std::fs::read_dir(run.path()).unwrap().count();
        assert_eq!(files, 3, "no temp files left behind");
    }
}
