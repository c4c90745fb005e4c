//! `fix`: the auto-fix planner over the store's open violations — notify the
//! owner, wait the grace period, remind, then fix — in dry-run unless
//! `--apply` is given.

use std::io::Write;
use std::sync::Arc;

use pacbot::store::Store;

use super::cli::FixArgs;
use super::config::Loaded;
use super::error::{Error, Result};

#[cfg(feature = "autofix")]
pub use enabled::run;

/// Without the `autofix` feature: say how to build it.
#[cfg(not(feature = "autofix"))]
pub async fn run(_store: Arc<dyn Store>, _loaded: &Loaded, _args: &FixArgs, _out: &mut dyn Write) -> Result<u8> {
    Err(Error::msg("this scanner was built without auto-fix: build it with `--features autofix,aws`"))
}

#[cfg(feature = "autofix")]
mod enabled {
    use std::collections::BTreeSet;

    use pacbot::autofix::notify::{SmtpConfig, SmtpNotifier, WebhookNotifier};
    use pacbot::autofix::{
        Catalogue, Decision, Executor, MemoryNotifier, Mode, Notifier, Planner, PlannerConfig, PolicyFix,
    };
    use pacbot::chrono::Utc;
    use serde_json::Value;

    use super::super::config::{Problem, problems_error};
    use super::super::error::{EXIT_ERROR, EXIT_OK};
    use super::super::packs;
    use super::super::run::{write_error, write_json};
    use super::*;

    /// Runs the planner once and prints its decisions (and the notices sent).
    pub async fn run(store: Arc<dyn Store>, loaded: &Loaded, args: &FixArgs, out: &mut dyn Write) -> Result<u8> {
        let config = planner_config(loaded, args)?;
        let catalogue = catalogue(loaded).await?;
        let mode = if args.apply { Mode::Apply } else { Mode::DryRun };
        let executor = Arc::new(Executor::new(store, args.by.clone()).with_mode(mode));
        let printed = Arc::new(MemoryNotifier::new());
        let mut notifiers: Vec<Arc<dyn Notifier>> = vec![printed.clone()];
        notifiers.extend(sinks(loaded)?);
        let planner = Planner::new(config, &catalogue, executor, notifiers)
            .map_err(|e| Error::msg(format!("{}: [autofix]: {e}", loaded.name())))?;
        let report = planner.run(Utc::now()).await.map_err(|e| Error::msg(format!("the planner failed: {e}")))?;
        let failed = report.decisions.iter().any(|d| matches!(d.decision, Decision::Failed { .. }));
        if args.json {
            write_json(out, &serde_json::json!({"mode": mode.as_str(), "report": report, "notices": printed.sent()}))?;
        } else {
            print(out, mode, &report, &printed.sent()).map_err(write_error)?;
        }
        Ok(if failed || !report.notify_errors.is_empty() { EXIT_ERROR } else { EXIT_OK })
    }

    fn print(
        out: &mut dyn Write,
        mode: Mode,
        report: &pacbot::autofix::PlannerReport,
        notices: &[pacbot::autofix::Message],
    ) -> std::io::Result<()> {
        writeln!(out, "auto-fix ({}): {} violation(s) considered", mode.as_str(), report.decisions.len())?;
        for d in &report.decisions {
            let (what, detail) = match &d.decision {
                Decision::Notified { due_at } => ("notified", format!("fix due {due_at}")),
                Decision::Reminded { due_at } => ("reminded", format!("fix due {due_at}")),
                Decision::Resumed { due_at } => ("resumed", format!("fix due {due_at}")),
                Decision::Waiting { reason } => ("waiting", reason.clone()),
                Decision::Suspended { exception_id } => ("suspended", format!("exception `{exception_id}`")),
                Decision::Ran { run } => ("ran", format!("{} {}: {}", run.fix, run.status.as_str(), run.message)),
                Decision::Deferred { reason } => ("deferred", reason.clone()),
                Decision::Skipped { reason } => ("skipped", reason.clone()),
                Decision::Resolved => ("resolved", String::new()),
                Decision::Failed { message } => ("failed", message.clone()),
            };
            writeln!(out, "  {:<10} {} {}  {detail}", what, d.violation.policy_id, d.violation.asset)?;
            if let Decision::Ran { run } = &d.decision
                && let Some(plan) = &run.plan
            {
                for c in &plan.changes {
                    writeln!(out, "             {}: {}", c.action, c.description)?;
                }
            }
        }
        for n in notices {
            writeln!(out, "notice to {}: {}", n.to.join(", "), n.subject)?;
        }
        for e in &report.notify_errors {
            writeln!(out, "notice not sent: {e}")?;
        }
        Ok(())
    }

    /// `[autofix]` as the planner's configuration: each entry's `fix`
    /// defaults to the policy's own fix key; `--policy` narrows the entries.
    fn planner_config(loaded: &Loaded, args: &FixArgs) -> Result<PlannerConfig> {
        let section = &loaded.config.autofix;
        let file = loaded.name();
        if section.policies.is_empty() {
            return Err(Error::msg(format!(
                "{file}: no policy is configured for auto-fix: add `[[autofix.policies]]` entries \
                 (`policy_id`, `allowed_accounts`, …)"
            )));
        }
        let set = packs::load(loaded, &[]).map_err(|p| problems_error(&p))?;
        let mut problems = Vec::new();
        let mut policies = Vec::new();
        let mut configured = BTreeSet::new();
        for (i, table) in section.policies.iter().enumerate() {
            let at = format!("autofix.policies[{i}]");
            let mut entry = match serde_json::to_value(table) {
                Ok(Value::Object(m)) => m,
                _ => {
                    problems.push(Problem::new(&file, &at, "not a table"));
                    continue;
                }
            };
            let id = entry.get("policy_id").and_then(Value::as_str).unwrap_or_default().to_owned();
            configured.insert(id.clone());
            if !args.policies.is_empty() && !args.policies.contains(&id) {
                continue;
            }
            let Some(policy) = set.policies.iter().find(|p| p.meta().id == id) else {
                problems.push(Problem::new(&file, format!("{at}.policy_id"), format!("no policy `{id}` is loaded")));
                continue;
            };
            if !entry.contains_key("fix") {
                match &policy.meta().fix {
                    Some(key) => {
                        entry.insert("fix".into(), Value::String(key.clone()));
                    }
                    None => {
                        problems.push(Problem::new(
                            &file,
                            format!("{at}.fix"),
                            format!("policy `{id}` names no fix: give one (`fix = \"…\"`)"),
                        ));
                        continue;
                    }
                }
            }
            match serde_path_to_error::deserialize::<_, PolicyFix>(Value::Object(entry)) {
                Ok(p) => policies.push(p),
                Err(e) => problems.push(Problem::new(&file, format!("{at}.{}", e.path()), e.inner().to_string())),
            }
        }
        for wanted in &args.policies {
            if !configured.contains(wanted) {
                problems.push(Problem::new(
                    &file,
                    "autofix.policies",
                    format!("`--policy {wanted}`: the policy has no `[[autofix.policies]]` entry"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems_error(&problems));
        }
        let mut config = PlannerConfig::new(policies);
        if let Some(tag) = &section.owner_tag {
            config.owner_tag = tag.clone();
        }
        config.default_recipients = section.default_recipients.clone();
        config.summary_recipients = section.summary_recipients.clone();
        Ok(config)
    }

    /// The configured notice sinks (webhook, SMTP).
    fn sinks(loaded: &Loaded) -> Result<Vec<Arc<dyn Notifier>>> {
        let section = &loaded.config.autofix;
        let bad = |path: &str, e: &dyn std::fmt::Display| Error::msg(format!("{}: at `{path}`: {e}", loaded.name()));
        let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some(url) = &section.webhook {
            out.push(Arc::new(WebhookNotifier::new(url).map_err(|e| bad("autofix.webhook", &e))?));
        }
        if let Some(table) = &section.smtp {
            let value = serde_json::to_value(table).map_err(|e| bad("autofix.smtp", &e))?;
            let config: SmtpConfig = serde_path_to_error::deserialize(value)
                .map_err(|e| bad(&format!("autofix.smtp.{}", e.path()), e.inner()))?;
            out.push(Arc::new(SmtpNotifier::new(&config).map_err(|e| bad("autofix.smtp", &e))?));
        }
        Ok(out)
    }

    /// The fixes this build has: the AWS catalogue (feature `aws`).
    #[cfg(feature = "aws")]
    async fn catalogue(loaded: &Loaded) -> Result<Catalogue> {
        use pacbot::autofix::AccountMode;
        use pacbot::autofix::aws::{AwsSessions, catalogue, impactful};

        let section = &loaded.config.autofix;
        let aws = &section.aws;
        let accounts = match (&aws.account, &aws.role_name) {
            (Some(account), None) => AccountMode::Single { account: account.clone() },
            (None, Some(role)) => AccountMode::Multi { role_name: role.clone() },
            _ => {
                return Err(Error::msg(format!(
                    "{}: at `autofix.aws`: name the account fixes run in (`account = \"…\"`) or the role \
                     to assume in each account (`role_name = \"…\"`)",
                    loaded.name()
                )));
            }
        };
        let region = aws.region.as_deref().unwrap_or("us-east-1");
        let sessions = AwsSessions::from_env(region, aws.endpoint_url.as_deref(), accounts).await;
        let built = if section.impactful { impactful::catalogue(&sessions) } else { catalogue(&sessions) };
        built.map_err(|e| Error::msg(format!("the AWS fixes: {e}")))
    }

    /// Without a provider's fixes every configured fix is unknown: say how to build them.
    #[cfg(not(feature = "aws"))]
    async fn catalogue(loaded: &Loaded) -> Result<Catalogue> {
        let section = &loaded.config.autofix;
        if section.policies.is_empty() && !section.impactful {
            return Ok(Catalogue::new());
        }
        Err(Error::msg("this scanner has no AWS fixes: build it with `--features autofix,aws`"))
    }
}
