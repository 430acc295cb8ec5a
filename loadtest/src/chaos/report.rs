//! `chaos-report`: one row of figures per fault of a chaos run, from what
//! the run left in `--out` and in Postgres.
//!
//! Inputs: `responses.tsv` (the driver's log, see `chaos`), `faults.tsv`
//! (one line per fault: its name, when it was injected and when it was
//! repaired — Redis answering again, Postgres answering, the process started
//! again —, the instance it took down, if one, and the resume target in
//! seconds), `processes.tsv` (when each process started, was killed, or was
//! restarted by the script because it had not recovered by itself), the
//! workers' and instances' JSON logs, and the database.
//!
//! A fault's window runs from its injection to the next one's (the last to
//! the end of the run); what happened before the first fault is the
//! baseline. Answers are charged to the window they came in (a request cut
//! off by a fault is the fault's, though sent before it). In its window a
//! fault is charged with:
//! - lost: bookings confirmed (201) in the window that Postgres doesn't have
//!   at the end, or has cancelled though the driver never asked to cancel;
//! - double: slots with more than one active booking, by the later one's
//!   time, and help-now requests bridged to more than one expert, by the
//!   later bridge;
//! - dup dials: bookings (and help-now requests) with two call attempts
//!   live at once, by the second
//!   one's start; an attempt is live from its start to its end as Postgres
//!   recorded it and, separately, as the simulated provider logged it (a
//!   killed worker's calls end with it): either record overlapping counts;
//! - 500s, 503s and requests with no answer (refused, reset, timed out);
//! - resume: seconds from the repair until every instance has answered a
//!   confirmation sent after the repair with 201 (one in flight across the
//!   repair doesn't count); "never" if one of them did not before the
//!   window's end or before the script had to restart an instance that had
//!   not recovered by itself (`healed` says so).
use crate::chaos::{now_ms, Response, NO_EXPERTS};
use crate::{booking_statuses, doubled_slots, Args};
use anyhow::Context;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    pub name: String,
    pub injected_ms: i64,
    pub repaired_ms: i64,
    /// The instance (index into `--base`) the fault took down.
    pub instance: Option<usize>,
    pub resume_target_s: f64,
}

/// One call attempt, as Postgres or the simulated provider's log has it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attempt {
    pub booking: Uuid,
    pub started_ms: i64,
    /// `i64::MAX` while it has not ended.
    pub ended_ms: i64,
}

/// What the run left behind, read once.
#[derive(Default)]
pub(crate) struct Evidence {
    pub statuses: HashMap<Uuid, String>,
    /// When each doubled slot's later booking was made.
    pub doubled_ms: Vec<i64>,
    /// Attempts as Postgres recorded them.
    pub recorded: Vec<Attempt>,
    /// Attempts as the simulated provider logged them.
    pub logged: Vec<Attempt>,
    /// Each internal error an instance logged: when, and its cause.
    pub internal_errors: Vec<(i64, String)>,
    /// Each process the script restarted because it had not recovered by
    /// itself: when, and its name.
    pub resets: Vec<(i64, String)>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Row {
    pub name: String,
    pub lost: usize,
    pub double: usize,
    pub dup_dials: usize,
    pub status_500: usize,
    /// `None` for the baseline; `Some(None)` when confirmations did not
    /// resume within the window.
    pub resume_s: Option<Option<f64>>,
    pub resume_target_s: Option<f64>,
    pub status_503: usize,
    pub no_answer: usize,
    pub confirmed: usize,
    /// The processes the script had to restart in the window.
    pub restarted: Vec<String>,
}

impl Row {
    /// The targets this row misses, in words.
    pub fn missed(&self) -> Vec<String> {
        let mut missed = Vec::new();
        for (n, what) in [
            (self.lost, "lost"),
            (self.double, "double"),
            (self.dup_dials, "dup dials"),
            (self.status_500, "500s"),
        ] {
            if n > 0 {
                missed.push(format!("{what} > 0"));
            }
        }
        if !self.restarted.is_empty() {
            missed.push("not healed".into());
        }
        if let (Some(resume), Some(target)) = (self.resume_s, self.resume_target_s) {
            match resume {
                Some(s) if s <= target => {}
                Some(_) => missed.push(format!("resume > {target} s")),
                None => missed.push("no resume".into()),
            }
        }
        missed
    }
}

/// The windows: the baseline, then one per fault, as (name, from, to, fault).
fn windows(faults: &[Fault], start: i64, end: i64) -> Vec<(String, i64, i64, Option<&Fault>)> {
    let mut out = vec![(
        "baseline".to_string(),
        start,
        faults.first().map_or(end, |f| f.injected_ms),
        None,
    )];
    for (i, f) in faults.iter().enumerate() {
        let to = faults.get(i + 1).map_or(end, |n| n.injected_ms);
        out.push((f.name.clone(), f.injected_ms, to, Some(f)));
    }
    out
}

/// Per booking, the first moment it had two attempts live at once (the
/// later one's start).
pub(crate) fn overlapping(attempts: &[Attempt]) -> HashMap<Uuid, i64> {
    let mut by_booking: HashMap<Uuid, Vec<&Attempt>> = HashMap::new();
    for a in attempts {
        by_booking.entry(a.booking).or_default().push(a);
    }
    let mut out = HashMap::new();
    for (booking, mut list) in by_booking {
        list.sort_by_key(|a| a.started_ms);
        let mut live_until = i64::MIN;
        for a in list {
            if a.started_ms < live_until {
                out.entry(booking).or_insert(a.started_ms);
            }
            live_until = live_until.max(a.ended_ms);
        }
    }
    out
}

/// The rows of the table: the baseline, then each fault.
pub(crate) fn rows(faults: &[Fault], responses: &[Response], evidence: &Evidence) -> Vec<Row> {
    let start = responses.iter().map(|r| r.sent_ms).min().unwrap_or(0);
    let end = responses.iter().map(|r| r.answered_ms).max().unwrap_or(0) + 1;
    let asked_to_cancel: HashSet<Uuid> = responses
        .iter()
        .filter(|r| r.step == "cancel")
        .filter_map(|r| r.booking)
        .collect();
    // Each booking by its first 201 (a retried confirmation may repeat it).
    let mut confirmed: HashMap<Uuid, i64> = HashMap::new();
    for r in responses
        .iter()
        .filter(|r| r.step == "confirm" && r.status == 201)
    {
        if let Some(b) = r.booking {
            let at = confirmed.entry(b).or_insert(r.answered_ms);
            *at = (*at).min(r.answered_ms);
        }
    }
    let lost_ms: Vec<i64> = confirmed
        .iter()
        .filter(
            |(b, _)| match evidence.statuses.get(b).map(String::as_str) {
                None => true,
                Some("cancelled") => !asked_to_cancel.contains(b),
                Some(_) => false,
            },
        )
        .map(|(_, &at)| at)
        .collect();
    let mut dups = overlapping(&evidence.recorded);
    for (b, at) in overlapping(&evidence.logged) {
        let first = dups.entry(b).or_insert(at);
        *first = (*first).min(at);
    }
    let instances: std::collections::BTreeSet<usize> =
        responses.iter().map(|r| r.instance).collect();
    let within = |t: i64, from: i64, to: i64| t >= from && t < to;
    windows(faults, start, end)
        .into_iter()
        .map(|(name, from, to, fault)| {
            let answered: Vec<&Response> = responses
                .iter()
                .filter(|r| within(r.answered_ms, from, to))
                .collect();
            let count = |f: &dyn Fn(&Response) -> bool| answered.iter().filter(|r| f(r)).count();
            let resets: Vec<&(i64, String)> = evidence
                .resets
                .iter()
                .filter(|(at, _)| within(*at, from, to))
                .collect();
            let until = resets.iter().map(|(at, _)| *at).min().unwrap_or(to);
            let resume_s = fault.map(|f| {
                let first_on = |instance: usize| {
                    responses
                        .iter()
                        .filter(|r| r.step == "confirm" && r.status == 201)
                        .filter(|r| r.instance == instance)
                        .filter(|r| r.sent_ms >= f.repaired_ms && r.answered_ms < until)
                        .map(|r| r.answered_ms)
                        .min()
                };
                instances
                    .iter()
                    .map(|&i| first_on(i))
                    .collect::<Option<Vec<i64>>>()
                    .and_then(|firsts| firsts.into_iter().max())
                    .map(|at| (at - f.repaired_ms) as f64 / 1000.0)
            });
            Row {
                name,
                lost: lost_ms.iter().filter(|&&t| within(t, from, to)).count(),
                double: evidence
                    .doubled_ms
                    .iter()
                    .filter(|&&t| within(t, from, to))
                    .count(),
                dup_dials: dups.values().filter(|&&t| within(t, from, to)).count(),
                status_500: count(&|r| r.status == 500),
                resume_s,
                resume_target_s: fault.map(|f| f.resume_target_s),
                status_503: count(&|r| r.status == 503),
                no_answer: count(&|r| r.status == 0),
                confirmed: count(&|r| r.step == "confirm" && r.status == 201),
                restarted: resets.iter().map(|(_, name)| name.clone()).collect(),
            }
        })
        .collect()
}

/// The sums of `rows`.
pub(crate) fn total(rows: &[Row]) -> Row {
    rows.iter().fold(
        Row {
            name: "total".into(),
            ..Row::default()
        },
        |mut t, r| {
            t.lost += r.lost;
            t.double += r.double;
            t.dup_dials += r.dup_dials;
            t.status_500 += r.status_500;
            t.status_503 += r.status_503;
            t.no_answer += r.no_answer;
            t.confirmed += r.confirmed;
            t.restarted.extend(r.restarted.iter().cloned());
            t
        },
    )
}

fn tsv_rows(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect())
}

fn read_faults(path: &Path) -> anyhow::Result<Vec<Fault>> {
    tsv_rows(path)?
        .into_iter()
        .map(|f| {
            let [name, injected, repaired, instance, target] = &f[..] else {
                anyhow::bail!("{}: a line of {} fields: {f:?}", path.display(), f.len());
            };
            Ok(Fault {
                name: name.clone(),
                injected_ms: injected.parse()?,
                repaired_ms: repaired.parse()?,
                instance: instance.parse().ok(),
                resume_target_s: target.parse()?,
            })
        })
        .collect()
}

fn read_responses(path: &Path) -> anyhow::Result<Vec<Response>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        // The last line may be cut short if the driver was killed.
        match Response::parse(line) {
            Some(r) => out.push(r),
            None => eprintln!("{}:{}: unreadable line skipped", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// `processes.tsv`: (process, event, Unix ms) for each start, kill and
/// reset (a restart of a process that had not recovered by itself).
fn read_processes(dir: &Path) -> anyhow::Result<Vec<(String, String, i64)>> {
    Ok(tsv_rows(&dir.join("processes.tsv"))?
        .into_iter()
        .filter_map(|p| match &p[..] {
            [name, event, at] => Some((name.clone(), event.clone(), at.parse().ok()?)),
            _ => None,
        })
        .collect())
}

/// Each worker process's log, and when it was killed (if it was).
fn worker_logs(
    dir: &Path,
    processes: &[(String, String, i64)],
) -> Vec<(std::path::PathBuf, Option<i64>)> {
    let mut killed: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    for (name, event, at) in processes.iter().filter(|p| p.0.starts_with("worker")) {
        let entry = killed.entry(name).or_default();
        if event == "kill" || event == "reset" {
            *entry = Some(*at);
        }
    }
    killed
        .into_iter()
        .map(|(name, at)| (dir.join(format!("{name}.log")), at))
        .collect()
}

/// JSON log lines (tracing's `json` format) with their time in Unix ms.
fn json_lines(path: &Path) -> anyhow::Result<Vec<(i64, Value)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let at = v["timestamp"]
                .as_str()?
                .parse::<chrono::DateTime<chrono::Utc>>()
                .ok()?
                .timestamp_millis();
            Some((at, v))
        })
        .collect())
}

/// The simulated provider's calls in one worker's log; those still going
/// when it was killed end then.
fn logged_attempts(path: &Path, killed_ms: Option<i64>) -> anyhow::Result<Vec<Attempt>> {
    let mut open: HashMap<(Uuid, u64), i64> = HashMap::new();
    let mut out = Vec::new();
    for (at, v) in json_lines(path)? {
        let key = match (
            v["booking"].as_str().and_then(|b| b.parse().ok()),
            v["attempt"].as_u64(),
        ) {
            (Some(b), Some(a)) => (b, a),
            _ => continue,
        };
        match v["message"].as_str() {
            Some("simulated call starts") => {
                open.insert(key, at);
            }
            Some("simulated call ended") => {
                if let Some(started_ms) = open.remove(&key) {
                    out.push(Attempt {
                        booking: key.0,
                        started_ms,
                        ended_ms: at,
                    });
                }
            }
            _ => {}
        }
    }
    out.extend(open.into_iter().map(|((booking, _), started_ms)| Attempt {
        booking,
        started_ms,
        ended_ms: killed_ms.unwrap_or(i64::MAX),
    }));
    Ok(out)
}

/// Help-now requests bridged by more than one call task (more than one
/// expert), by the later bridge's time.
async fn doubly_bridged(db: &sqlx::PgPool) -> anyhow::Result<Vec<i64>> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT t.help_now_id, (extract(epoch FROM max(a.bridged_at)) * 1000)::int8
           FROM call_attempts a JOIN call_tasks t ON t.id = a.task_id
          WHERE t.help_now_id IS NOT NULL AND a.bridged_at IS NOT NULL
          GROUP BY t.help_now_id HAVING count(DISTINCT t.id) > 1",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(request, at)| {
            eprintln!("help-now request {request} was bridged to more than one expert");
            at
        })
        .collect())
}

/// Every internal error the instances logged (`serve-*.log`).
fn internal_errors(dir: &Path) -> anyhow::Result<Vec<(i64, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("serve-") && name.ends_with(".log")) {
            continue;
        }
        for (at, v) in json_lines(&path)? {
            if v["message"].as_str() == Some("internal error") {
                let cause = v["error"].as_str().unwrap_or("(no cause logged)");
                out.push((at, cause.chars().take(160).collect()));
            }
        }
    }
    Ok(out)
}

impl Evidence {
    async fn gather(db: &sqlx::PgPool, responses: &[Response], dir: &Path) -> anyhow::Result<Self> {
        let confirmed: Vec<Uuid> = responses
            .iter()
            .filter(|r| r.step == "confirm" && r.status == 201)
            .filter_map(|r| r.booking)
            .collect();
        let recorded: Vec<(Uuid, i64, Option<i64>)> = sqlx::query_as(
            "SELECT COALESCE(t.booking_id, t.help_now_id),
                    (extract(epoch FROM a.started_at) * 1000)::int8,
                    (extract(epoch FROM a.ended_at) * 1000)::int8
               FROM call_attempts a JOIN call_tasks t ON t.id = a.task_id
              WHERE t.referral_id IS NULL",
        )
        .fetch_all(db)
        .await?;
        let processes = read_processes(dir)?;
        let mut logged = Vec::new();
        for (path, killed) in worker_logs(dir, &processes) {
            logged.extend(logged_attempts(&path, killed)?);
        }
        Ok(Self {
            statuses: booking_statuses(db, &confirmed).await?,
            doubled_ms: doubled_slots(db)
                .await?
                .iter()
                .map(|d| d.last_booked_ms)
                .chain(doubly_bridged(db).await?)
                .collect(),
            recorded: recorded
                .into_iter()
                .map(|(booking, started_ms, ended_ms)| Attempt {
                    booking,
                    started_ms,
                    ended_ms: ended_ms.unwrap_or(i64::MAX),
                })
                .collect(),
            logged,
            internal_errors: internal_errors(dir)?,
            resets: processes
                .into_iter()
                .filter(|(_, event, _)| event == "reset")
                .map(|(name, _, at)| (at, name))
                .collect(),
        })
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<18} {:>5} {:>6} {:>9} {:>5} {:>9} {:>6} {:>9} {:>9} {:>6}  targets",
        "fault",
        "lost",
        "double",
        "dup_dials",
        "500s",
        "resume_s",
        "503s",
        "no_answer",
        "confirmed",
        "healed"
    );
    let line = |r: &Row, verdict: String| {
        let resume = match r.resume_s {
            None => "-".to_string(),
            Some(None) => "never".to_string(),
            Some(Some(s)) => format!("{s:.2}"),
        };
        println!(
            "{:<18} {:>5} {:>6} {:>9} {:>5} {:>9} {:>6} {:>9} {:>9} {:>6}  {verdict}",
            r.name,
            r.lost,
            r.double,
            r.dup_dials,
            r.status_500,
            resume,
            r.status_503,
            r.no_answer,
            r.confirmed,
            if r.restarted.is_empty() { "yes" } else { "no" }
        );
    };
    for r in rows {
        let missed = r.missed();
        line(
            r,
            if missed.is_empty() {
                "met".to_string()
            } else {
                format!("NOT met ({})", missed.join(", "))
            },
        );
    }
    let failing: Vec<&str> = rows
        .iter()
        .filter(|r| !r.missed().is_empty())
        .map(|r| r.name.as_str())
        .collect();
    line(
        &total(rows),
        if failing.is_empty() {
            "met".to_string()
        } else {
            format!("NOT met (in {})", failing.join(", "))
        },
    );
}

/// What each fault did beyond the table: how long its repair took, which
/// steps failed (or served empty slates), the instances' causes of their
/// 500s, and the calls it interrupted.
fn print_details(faults: &[Fault], responses: &[Response], evidence: &Evidence) {
    let end = responses.iter().map(|r| r.answered_ms).max().unwrap_or(0) + 1;
    let start = responses.iter().map(|r| r.sent_ms).min().unwrap_or(0);
    for (name, from, to, fault) in windows(faults, start, end) {
        println!("\n{name} ({:.1} s window)", (to - from) as f64 / 1000.0);
        if let Some(f) = fault {
            println!(
                "  repaired {:.2} s after injection{}",
                (f.repaired_ms - f.injected_ms) as f64 / 1000.0,
                f.instance
                    .map_or(String::new(), |i| format!("; took down instance {i}"))
            );
            let live_at = |attempts: &[Attempt]| -> Vec<Uuid> {
                attempts
                    .iter()
                    .filter(|a| a.started_ms < f.injected_ms && a.ended_ms > f.injected_ms)
                    .map(|a| a.booking)
                    .collect()
            };
            let (live, logged_live) = (live_at(&evidence.recorded), live_at(&evidence.logged));
            // Dialed again in this window, after the repair.
            let redialed: Vec<i64> = logged_live
                .iter()
                .filter_map(|b| {
                    evidence
                        .logged
                        .iter()
                        .filter(|a| a.booking == *b && a.started_ms >= f.repaired_ms)
                        .map(|a| a.started_ms)
                        .filter(|&t| t < to)
                        .min()
                })
                .collect();
            let first = redialed.iter().min().map_or(String::new(), |&t| {
                format!(
                    ", the first {:.1} s after the repair",
                    (t - f.repaired_ms) as f64 / 1000.0
                )
            });
            println!(
                "  calls live at injection: {} by the provider's log ({} by Postgres' record); \
                 dialed again in the window: {}{first}",
                logged_live.len(),
                live.len(),
                redialed.len()
            );
        }
        let dialed = evidence
            .recorded
            .iter()
            .filter(|a| a.started_ms >= from && a.started_ms < to)
            .count();
        println!("  call attempts started in the window: {dialed}");
        let mut failed: BTreeMap<(String, u16, String), usize> = BTreeMap::new();
        for (at, name) in evidence
            .resets
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
        {
            println!(
                "  {name} had not recovered by itself: restarted by the script {:.1} s into the window",
                (at - from) as f64 / 1000.0
            );
        }
        for r in responses
            .iter()
            .filter(|r| r.answered_ms >= from && r.answered_ms < to)
            .filter(|r| r.status == 0 || r.status >= 500 || r.code == NO_EXPERTS)
        {
            *failed
                .entry((r.step.clone(), r.status, r.code.clone()))
                .or_default() += 1;
        }
        for ((step, status, code), n) in &failed {
            println!("  {step:<8} {status:>3} {code:<12} {n}");
        }
        let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, cause) in evidence
            .internal_errors
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
        {
            *causes.entry(cause).or_default() += 1;
        }
        let mut causes: Vec<_> = causes.into_iter().collect();
        causes.sort_by_key(|c| std::cmp::Reverse(c.1));
        for (cause, n) in causes.iter().take(5) {
            println!("  500 cause x{n}: {cause}");
        }
    }
}

/// Prints the report; returns whether every target was met.
pub async fn run(args: &Args) -> anyhow::Result<bool> {
    let dir = &args.out;
    let responses = read_responses(&dir.join("responses.tsv"))?;
    let faults = read_faults(&dir.join("faults.tsv"))?;
    let db = sqlx::PgPool::connect(&args.database_url).await?;
    let evidence = Evidence::gather(&db, &responses, dir).await?;
    let rows = rows(&faults, &responses, &evidence);
    println!(
        "chaos run: {} requests, {} faults, report at {}",
        responses.len(),
        faults.len(),
        chrono::DateTime::from_timestamp_millis(now_ms()).map_or(String::new(), |t| t.to_rfc3339())
    );
    println!(
        "call attempts: {} in Postgres, {} in the simulated provider's logs\n",
        evidence.recorded.len(),
        evidence.logged.len()
    );
    print_table(&rows);
    println!(
        "\nTargets: 0 lost, 0 double, 0 dup dials, 0 500s, healed by itself (no restart by the \
         script); resume within each fault's target ({}). 503s and no_answer are for information.",
        faults
            .iter()
            .map(|f| format!("{} {} s", f.name, f.resume_target_s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_details(&faults, &responses, &evidence);
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| !r.missed().is_empty())
        .map(|r| r.name.clone())
        .collect();
    if missed.is_empty() {
        println!("\nevery target met");
    } else {
        println!("\ntargets NOT met in: {}", missed.join(", "));
    }
    Ok(missed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(step: &str, sent_ms: i64, status: u16, booking: Option<Uuid>) -> Response {
        Response {
            sent_ms,
            answered_ms: sent_ms + 10,
            instance: 0,
            step: step.into(),
            status,
            code: "-".into(),
            booking,
            pass_ms: sent_ms - 5,
        }
    }

    fn fault(name: &str, injected_ms: i64, repaired_ms: i64) -> Fault {
        Fault {
            name: name.into(),
            injected_ms,
            repaired_ms,
            instance: None,
            resume_target_s: 2.0,
        }
    }

    #[test]
    fn overlapping_attempts_count_once_per_booking_at_the_later_start() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let attempts = [
            // a: one after the other, touching: not live at once.
            Attempt {
                booking: a,
                started_ms: 0,
                ended_ms: 100,
            },
            Attempt {
                booking: a,
                started_ms: 100,
                ended_ms: 200,
            },
            // b: the second starts while the first (never ended) is live.
            Attempt {
                booking: b,
                started_ms: 50,
                ended_ms: i64::MAX,
            },
            Attempt {
                booking: b,
                started_ms: 300,
                ended_ms: 400,
            },
            Attempt {
                booking: b,
                started_ms: 350,
                ended_ms: 500,
            },
        ];
        let found = overlapping(&attempts);
        assert_eq!(found.len(), 1);
        assert_eq!(found.get(&b), Some(&300));
    }

    #[test]
    fn each_figure_is_charged_to_the_window_it_happened_in() {
        let faults = [
            fault("redis-kill", 1_000, 3_000),
            fault("flush", 10_000, 10_000),
        ];
        let (kept, cancelled, missing, stray) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let responses = vec![
            response("confirm", 100, 201, Some(kept)),
            response("confirm", 200, 201, Some(cancelled)),
            response("cancel", 300, 200, Some(cancelled)),
            // Sent before the fault, cut off by it: the fault's.
            response("hold", 995, 500, None),
            response("hold", 1_600, 503, None),
            response("slate", 1_700, 0, None),
            // Sent before the repair: no resume yet.
            response("confirm", 2_990, 201, Some(missing)),
            // Sent after it: confirmations resumed.
            response("confirm", 4_000, 201, Some(Uuid::new_v4())),
            // Cancelled by someone, though the driver never asked.
            response("confirm", 11_000, 201, Some(stray)),
        ];
        let mut evidence = Evidence::default();
        for b in responses.iter().filter_map(|r| r.booking) {
            evidence.statuses.insert(b, "confirmed".into());
        }
        evidence.statuses.remove(&missing);
        evidence.statuses.insert(cancelled, "cancelled".into());
        evidence.statuses.insert(stray, "cancelled".into());
        evidence.doubled_ms = vec![10_500];
        let rows = rows(&faults, &responses, &evidence);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["baseline", "redis-kill", "flush"]);
        let (baseline, kill, flush) = (&rows[0], &rows[1], &rows[2]);
        let total = total(&rows);
        assert_eq!((baseline.lost, baseline.confirmed), (0, 2));
        assert_eq!(baseline.resume_s, None);
        assert_eq!(
            (kill.lost, kill.status_500, kill.status_503, kill.no_answer),
            (1, 1, 1, 1)
        );
        assert_eq!(kill.resume_s, Some(Some(1.01)));
        assert!(kill.missed().contains(&"500s > 0".to_string()));
        assert_eq!((flush.lost, flush.double), (1, 1));
        assert_eq!(flush.resume_s, Some(Some(1.01)));
        assert_eq!((total.lost, total.double, total.status_500), (2, 1, 1));
    }

    #[test]
    fn confirmations_resume_once_every_instance_confirms_again() {
        let mut f = fault("api-kill", 1_000, 2_000);
        f.instance = Some(1);
        f.resume_target_s = 5.0;
        let on = |instance: usize, sent_ms: i64, status: u16| Response {
            instance,
            ..response("confirm", sent_ms, status, Some(Uuid::new_v4()))
        };
        let responses = [on(1, 1_500, 0), on(0, 2_100, 201), on(1, 4_000, 201)];
        let mut evidence = Evidence::default();
        for b in responses.iter().filter_map(|r| r.booking) {
            evidence.statuses.insert(b, "confirmed".into());
        }
        let resumed = rows(std::slice::from_ref(&f), &responses, &evidence);
        assert_eq!(resumed[1].resume_s, Some(Some(2.01)));
        assert!(resumed[1].missed().is_empty());
        // Instance 1 never confirmed again before the script restarted it.
        evidence.resets = vec![(3_000, "serve-1".into())];
        let reset = rows(&[f], &responses, &evidence);
        assert_eq!(reset[1].resume_s, Some(None));
        assert_eq!(reset[1].restarted, ["serve-1"]);
        assert_eq!(reset[1].missed(), ["not healed", "no resume"]);
    }
}
